"""Checks a preemption from both jobs' events: the victim was stopped for
the preemptor and requeued once, the preemptor was placed while the victim
waited and the victim again after it, and the victim resumed from a
checkpoint past step 0.

    preemption_checks.py WORK VICTIM_ID PREEMPTOR_ID

reads WORK/VICTIM_ID-events.jsonl and WORK/PREEMPTOR_ID-events.jsonl
(meridianctl --json watch) and the victim's output log under WORK/state.
"""
import json
import re
import sys

work, victim, preemptor = sys.argv[1:4]


def events(job):
    return [json.loads(l) for l in open(f"{work}/{job}-events.jsonl") if l.startswith("{")]


v, p = events(victim), events(preemptor)
states = [e["state"] for e in v if e.get("state")]
requeued = [e for e in v if e.get("state") == "QUEUED" and f"preempted by {preemptor}" in e.get("message", "")]
p_placed = next(e["unix_s"] for e in p if e.get("state") == "PLACED")
v_placed = [e["unix_s"] for e in v if e.get("state") == "PLACED"]
log = open(f"{work}/state/jobs/{victim}/output.log").read()
resumed = [int(s) for s in re.findall(r"resumed from \S+ at step (\d+)", log)]
checks = {
    f"{victim} was preempted by {preemptor} and requeued ({' '.join(dict.fromkeys(states))})": len(requeued) == 1,
    f"{preemptor} was placed while {victim} waited, {victim} again after it":
        len(v_placed) == 2 and v_placed[0] < p_placed < v_placed[1],
    f"{victim} resumed from a checkpoint past step 0 ({resumed})": len(resumed) == 1 and resumed[0] >= 50,
}
for what, ok in checks.items():
    print(("ok   " if ok else "FAIL ") + what)
sys.exit(0 if all(checks.values()) else 1)
