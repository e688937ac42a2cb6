# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    # Matches AUTH_ARG_SPEC in plugins/module_utils/core/kube_auth.py (PROBE matches PROBE_ARG_SPEC in
    # plugins/module_utils/core/probe.py): the options of kubernetes.core's k8s_auth_options that the
    # collection honours, with the same K8S_AUTH_* variables.
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file.
      - When neither O(kubeconfig), O(host) nor E(KUBECONFIG) is set and the module runs inside a
        pod, the in-cluster service account is used; otherwise C(~/.kube/config).
      - A user whose credentials come from a credential plugin (C(exec), for example C(aws),
        C(gke-gcloud-auth-plugin), C(kubelogin)) needs that plugin on the E(PATH) of the machine the
        module runs on (in AWX, in the execution environment).
      - Can also be set with E(K8S_AUTH_KUBECONFIG).
    type: path
  context:
    description:
      - The kubeconfig context to use; defaults to the current context.
      - Can also be set with E(K8S_AUTH_CONTEXT).
    type: str
  host:
    description:
      - URL of the API server, used with O(api_key) (or O(client_cert) and O(client_key)) instead of
        a kubeconfig (the AWX OpenShift/Kubernetes credential sets E(K8S_AUTH_HOST)).
      - Can also be set with E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - Bearer token for O(host). Can also be set with E(K8S_AUTH_API_KEY).
    type: str
  ca_cert:
    description:
      - CA bundle to verify the API server with; overrides the kubeconfig's.
      - Can also be set with E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path to a client certificate to authenticate with; overrides the kubeconfig's.
      - Can also be set with E(K8S_AUTH_CLIENT_CERT) or E(K8S_AUTH_CERT_FILE).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the key of O(client_cert); overrides the kubeconfig's.
      - Can also be set with E(K8S_AUTH_CLIENT_KEY) or E(K8S_AUTH_KEY_FILE).
    type: path
    aliases: [key_file]
  validate_certs:
    description:
      - Whether to verify the API server's certificate; overrides the kubeconfig's
        C(insecure-skip-tls-verify).
      - Can also be set with E(K8S_AUTH_VERIFY_SSL).
    type: bool
    aliases: [verify_ssl]
  proxy:
    description:
      - URL of an HTTP proxy to reach the API server through; overrides the kubeconfig's C(proxy-url).
      - Can also be set with E(K8S_AUTH_PROXY).
    type: str
  no_proxy:
    description:
      - Comma-separated hosts, domains, IP addresses or CIDR ranges reached without the proxy, for
        example C(localhost,.internal,10.0.0.0/8).
      - Can also be set with E(K8S_AUTH_NO_PROXY).
    type: str
  impersonate_user:
    description:
      - User name to act as (the C(Impersonate-User) header, as C(kubectl --as)); the credentials
        need the C(impersonate) verb on it.
      - Can also be set with E(K8S_AUTH_IMPERSONATE_USER).
    type: str
  impersonate_groups:
    description:
      - Groups to act as (one C(Impersonate-Group) header each, as C(kubectl --as-group)).
      - Can also be set with E(K8S_AUTH_IMPERSONATE_GROUPS), comma-separated.
    type: list
    elements: str
  request_timeout:
    description:
      - Seconds to wait for one API request.
      - Idempotent requests (reads, the start of a watch, deletions) are retried up to 3 times on
        connection errors and on HTTP 429, 500, 502, 503 and 504, with exponential backoff and the
        server's C(Retry-After) honoured (at most 30 seconds); a create or a patch is retried only
        when the connection could not be opened.
    type: int
    default: 30
"""

    PROBE = r"""
options:
  run_id:
    description:
      - Identifier of the conformance run. Every object the probe creates carries the labels
        C(ai-conformance.io/run-id=<run_id>) and C(app.kubernetes.io/managed-by=ai-conformance),
        and the probe deletes only objects carrying them.
      - Generated when omitted. 1-32 lowercase letters, digits or C(-).
    type: str
  namespace:
    description:
      - Namespace to create the probe's namespaced objects in. When omitted the probe creates its
        own namespace and deletes it afterwards; a namespace named here is used but never deleted.
    type: str
  owner:
    description:
      - The layer that owns this requirement in a layered product (CNCF FAQ), recorded in the result.
    type: str
    default: platform
    choices: [platform, product, base]
  timeout:
    description:
      - Upper bound in seconds for each wait of the probe.
    type: int
    default: 120
  keep_objects:
    description:
      - Leave the created objects in place for debugging instead of deleting them.
    type: bool
    default: false
  undecided_runtime_checks:
    description:
      - What a pass becomes when some of its runtime checks (what a container sees, recorded with
        kind C(runtime)) were not decided.
      - V(auto) fails it when at least one node of the cluster runs containers (its
        C(status.nodeInfo.containerRuntimeVersion) is set and does not start with C(kwok)). There
        the checks could have run, so leaving them undecided is a defect of the platform or the
        probe. On a cluster without such nodes the result stays a partial pass.
      - V(fail) always fails it. V(allow) always keeps the partial pass.
      - A partial pass keeps the verdict C(pass). Its reason starts with C(partial:), the number
        of checks not decided and their names, and the result lists them in C(undecided_checks).
        What the policy decided is in C(observations.undecided_policy).
    type: str
    default: auto
    choices: [auto, fail, allow]
  journal_dir:
    description:
      - Directory to write the probe's result to as soon as it is decided, as C(<journal_dir>/<requirement>.json)
        (written to a temporary file, then renamed, so that a run killed at any moment leaves the whole result or none).
      - conformance.yml sets it to the bundle's C(partial/) directory, next to C(INCOMPLETE.json), so that a run
        interrupted before its evidence phase keeps the results it had, marked incomplete.
      - Nothing is written when it is unset, or in check mode; a journal that cannot be written is a warning.
    type: path
  image_registry:
    description:
      - A registry mirror every image of the probe's objects is pulled from (air-gapped clusters);
        empty (the default) rewrites nothing.
      - C(host[:port][/path]) without a scheme, tag or digest. An image C(<host>/<path>) becomes
        C(<image_registry>/<path>) (C(nvcr.io/nvidia/cuda:12.9.1-base) becomes
        C(mirror.example.com/nvidia/cuda:12.9.1-base)); a Docker Hub image keeps its
        C(library/) or user path; an image already under the mirror is left alone.
      - It applies to every object the probe creates, including images it does not take as
        options (the C(registry.k8s.io/pause) image of its placeholder pods). The images sent under the
        mirror are recorded in C(observations.image_mirror).
      - The filter P(ai_conformance.kubernetes.mirror#filter) applies the same rule; conformance.yml
        passes C(conformance_image_registry) here. See C(docs/air-gapped.md).
    type: str
    default: ""
  image_registry_map:
    description:
      - Per registry host, the mirror its images are pulled from, for mirrors that keep registries
        apart, for example C(nvcr.io) to C(mirror.example.com/nvcr) and C(docker.io) to C(mirror.example.com/hub).
      - A host named here takes precedence over O(image_registry); a host named in neither is left alone.
    type: dict
    default: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: In check mode a probe that would create objects returns a C(skip) result saying so.
"""
