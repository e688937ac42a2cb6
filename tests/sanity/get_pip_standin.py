"""Stand-in for the get-pip bootstrap script that ansible-test downloads from a host this machine
cannot reach.  ansible-test runs it with pip's install arguments; we bootstrap pip from the
standard library's ensurepip and then install what was asked from PyPI."""

import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
