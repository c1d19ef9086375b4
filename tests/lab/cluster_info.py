#!/usr/bin/env python3
"""Write the cluster-info ConfigMap as kubeadm's bootstrap signer publishes it, for the lab's API
server: a kubeconfig with the cluster CA and the server URL, and for each bootstrap token a
detached JWS (HS256, keyed by the token secret) of that kubeconfig. An implementation independent
of the agent's (Python's hmac and base64).

    cluster_info.py CA_PEM SERVER_URL OUT_JSON [TOKEN_ID.TOKEN_SECRET ...]
"""
import base64
import hashlib
import hmac
import json
import sys


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def main() -> None:
    ca_pem, server, out = sys.argv[1], sys.argv[2], sys.argv[3]
    ca = base64.b64encode(open(ca_pem, "rb").read()).decode()
    kubeconfig = (
        "apiVersion: v1\n"
        "clusters:\n"
        "- cluster:\n"
        f"    certificate-authority-data: {ca}\n"
        f"    server: {server}\n"
        '  name: ""\n'
        "contexts: null\n"
        "current-context: \"\"\n"
        "kind: Config\n"
        "preferences: {}\n"
        "users: null\n"
    )
    data = {"kubeconfig": kubeconfig}
    for tok in sys.argv[4:]:
        tid, secret = tok.split(".", 1)
        header = b64url(json.dumps({"alg": "HS256", "kid": tid}, separators=(",", ":")).encode())
        signing_input = f"{header}.{b64url(kubeconfig.encode())}".encode()
        sig = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
        data[f"jws-kubeconfig-{tid}"] = f"{header}..{b64url(sig)}"
    cm = {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "cluster-info", "namespace": "kube-public"},
        "data": data,
    }
    with open(out, "w") as f:
        json.dump(cm, f)


if __name__ == "__main__":
    main()
