#!/usr/bin/python3
"""No Docker engine runs on the build machines, so check the images' recipes
statically: every path they COPY from the context exists, every script
they RUN is in the tree, each image is a build stage plus a runtime stage
that runs as another user than root, the context leaves build output out
(.dockerignore), and the compose file points at real Dockerfiles and has
health checks and restart policies."""
import pathlib, re, sys

root = pathlib.Path(sys.argv[1])
failures = []
install = (root / "scripts/install-deps.sh").read_text()
for dockerfile in sorted((root / "docker").glob("*.Dockerfile")):
    text = dockerfile.read_text()
    for src in re.findall(r"^COPY\s+(?!--from)(\S+)\s+\S+", text, re.M):
        if src != "." and not (root / src).exists():
            failures.append(f"{dockerfile.name}: COPY source '{src}' does not exist")
    for script in re.findall(r"bash\s+(scripts/\S+\.sh)", text):
        if not (root / script).exists():
            failures.append(f"{dockerfile.name}: runs '{script}', which does not exist")
    stages = re.split(r"^FROM\s", text, flags=re.M)[1:]
    if len(stages) < 2 or not re.match(r"\S+\s+AS\s+build\b", stages[0]):
        failures.append(f"{dockerfile.name}: not a build stage (FROM ... AS build) plus a runtime stage")
    elif "--from=build" not in stages[-1] or "build.sh" in stages[-1]:
        failures.append(f"{dockerfile.name}: the runtime stage should copy the programs from the build stage, not build")
    if not stages or not re.search(r"^USER\s+(?!root\b)\S+", stages[-1], re.M):
        failures.append(f"{dockerfile.name}: the runtime stage runs as root (no USER line naming another user)")
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
for service in re.findall(r"^  (\w+):\n", compose, re.M):
    body = re.split(r"\n  \w", compose.split(f"  {service}:\n", 1)[1], maxsplit=1)[0]
    if "restart:" not in body:
        failures.append(f"compose.yaml: service {service} has no restart policy")
if "healthcheck:" not in compose or "service_healthy" not in compose:
    failures.append("compose.yaml: no health check that the worker waits for")
ignore = root / ".dockerignore"
if not ignore.exists() or "build*/" not in ignore.read_text().split():
    failures.append(".dockerignore: missing, or does not leave build*/ out of the context")
for f in failures:
    print("FAIL:", f)
print(f"{len(failures)} problems in {len(list((root / 'docker').glob('*')))} docker files")
sys.exit(1 if failures else 0)
