// aic-mkimage: writes a one-layer linux/amd64 image as a docker-archive tarball (manifest.json with
// the reference as RepoTag, the config, the gzipped layer) that `ctr -n k8s.io images import`
// registers under that reference: the reference cluster's worker nodes reach no registry.
//
// The layer is the --rootfs directory: modes (setuid, setgid, sticky included), directories,
// regular files and symlinks are kept; owners become 0:0 and every timestamp is fixed, so the same
// inputs give the same layer and config digests (the image ID) on every rebuild.
//
//	aic-mkimage --ref registry.k8s.io/pause:3.10 --out pause.tar --rootfs DIR \
//	    [--entrypoint '["/pause"]'] [--cmd '["sh"]'] [--env K=V]... [--workdir /] \
//	    [--user 0:0] [--label k=v]... [--arch amd64]
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// epoch is every timestamp written (layer entries, config, history): 2026-01-01T00:00:00Z, the
// build date that tests/refcluster/build.py stamps into the Kubernetes binaries.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "aic-mkimage: "+format+"\n", args...)
	os.Exit(2)
}

func jsonList(flagName, v string) []string {
	if v == "" {
		return nil
	}
	var out []string
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		fail("--%s must be a JSON list of strings: %v", flagName, err)
	}
	return out
}

// layerTar writes the directory tree under root as an uncompressed tar, in lexical order.
func layerTar(root string) ([]byte, []string, error) {
	var buf bytes.Buffer
	var names []string
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == root {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		mode := fi.Mode()
		h := &tar.Header{
			Name:    filepath.ToSlash(rel),
			Mode:    int64(mode.Perm()),
			ModTime: epoch,
			Uid:     0,
			Gid:     0,
		}
		if mode&fs.ModeSetuid != 0 {
			h.Mode |= 0o4000
		}
		if mode&fs.ModeSetgid != 0 {
			h.Mode |= 0o2000
		}
		if mode&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		switch {
		case mode.IsDir():
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		case mode.IsRegular():
			h.Typeflag, h.Size = tar.TypeReg, fi.Size()
		case mode&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			h.Typeflag, h.Linkname = tar.TypeSymlink, target
		default:
			return fmt.Errorf("%s: unsupported file type %v (only directories, regular files and symlinks)", path, mode.Type())
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		names = append(names, h.Name)
		if h.Typeflag == tar.TypeReg {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			if n, err := io.Copy(tw, f); err != nil || n != h.Size {
				return fmt.Errorf("%s: copied %d of %d bytes: %v", path, n, h.Size, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), names, nil
}

func main() {
	var envs, labels multi
	ref := flag.String("ref", "", "image reference with a tag, e.g. registry.k8s.io/pause:3.10 (required)")
	out := flag.String("out", "", "the tarball to write (required)")
	rootfs := flag.String("rootfs", "", "directory whose tree becomes the image's one layer (required)")
	entrypoint := flag.String("entrypoint", "", `entrypoint as a JSON list, e.g. '["/pause"]'`)
	cmd := flag.String("cmd", "", `command as a JSON list, e.g. '["sh"]'`)
	workdir := flag.String("workdir", "", "working directory")
	user := flag.String("user", "", "user[:group] the container runs as")
	arch := flag.String("arch", "amd64", "the image's architecture (GOARCH spelling); the os is linux")
	flag.Var(&envs, "env", "KEY=VALUE (repeatable)")
	flag.Var(&labels, "label", "key=value (repeatable)")
	flag.Parse()
	if *ref == "" || *out == "" || *rootfs == "" || flag.NArg() != 0 {
		flag.Usage()
		fail("--ref, --out and --rootfs are required; no positional arguments")
	}
	tag, err := name.NewTag(*ref, name.StrictValidation)
	if err != nil {
		fail("--ref %q is not a reference with an explicit tag: %v", *ref, err)
	}
	if st, err := os.Stat(*rootfs); err != nil || !st.IsDir() {
		fail("--rootfs %q is not a directory", *rootfs)
	}
	for _, e := range envs {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			fail("--env %q is not KEY=VALUE", e)
		}
	}
	lbls := map[string]string{}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			fail("--label %q is not key=value", l)
		}
		lbls[k] = v
	}
	if len(lbls) == 0 {
		lbls = nil
	}

	data, files, err := layerTar(*rootfs)
	if err != nil {
		fail("reading --rootfs: %v", err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		fail("layer: %v", err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "aic-mkimage --rootfs (ai-conformance reference cluster)"},
	})
	if err != nil {
		fail("append layer: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		fail("config: %v", err)
	}
	cf = cf.DeepCopy()
	// The runtime lane needs the platform in the config: without it `ctr images import` matches no
	// platform and unpacks nothing unless --all-platforms is given.
	cf.OS, cf.Architecture = "linux", *arch
	cf.Created = v1.Time{Time: epoch}
	cf.Config = v1.Config{
		Entrypoint: jsonList("entrypoint", *entrypoint),
		Cmd:        jsonList("cmd", *cmd),
		Env:        envs,
		WorkingDir: *workdir,
		User:       *user,
		Labels:     lbls,
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		fail("set config: %v", err)
	}

	tmp := *out + ".tmp"
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		_ = os.Remove(tmp)
		fail("write %s: %v", *out, err)
	}
	if err := os.Rename(tmp, *out); err != nil {
		fail("%v", err)
	}
	imageID, err1 := img.ConfigName()
	layerDigest, err2 := layer.Digest()
	if err := errors.Join(err1, err2); err != nil {
		fail("digests: %v", err)
	}
	st, err := os.Stat(*out)
	if err != nil {
		fail("%v", err)
	}
	// The image ID (config digest) is what containerd and crictl report; the manifest digest is
	// containerd's own, as it re-serialises a docker-archive's manifest on import.
	summary, _ := json.Marshal(map[string]any{
		"ref": tag.String(), "out": *out, "size": st.Size(), "image_id": imageID.String(),
		"layer_digest": layerDigest.String(), "files": len(files),
	})
	fmt.Println(string(summary))
}
