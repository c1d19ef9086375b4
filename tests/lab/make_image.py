#!/usr/bin/env python3
"""Write a small OCI image layout for the lab registry: one layer holding SIZE bytes of random data
(random, so the compressed layer stays a multi-megabyte blob), a config, a manifest, an index.

    make_image.py DIR TAG SIZE

The lab pushes it with `skopeo copy oci:DIR:TAG docker://...` and pulls it back as the node would.
Standard library only.
"""

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def blob(root: str, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(root, "blobs", "sha256")
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, digest), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}


def main() -> None:
    root, tag, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(root, exist_ok=True)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        payload = os.urandom(size)
        info = tarfile.TarInfo("pause")
        info.size = len(payload)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(payload))
    layer_tar = raw.getvalue()
    layer = blob(root, gzip.compress(layer_tar, compresslevel=1, mtime=0))
    layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
    config = blob(
        root,
        json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Entrypoint": ["/pause"]},
                "rootfs": {
                    "type": "layers",
                    "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()],
                },
            }
        ).encode(),
    )
    config["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = blob(
        root,
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config,
                "layers": [layer],
            }
        ).encode(),
    )
    manifest["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    manifest["annotations"] = {"org.opencontainers.image.ref.name": tag}
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [manifest]}, f)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


if __name__ == "__main__":
    main()
