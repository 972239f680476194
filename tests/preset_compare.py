"""The comparison shared by tests/torch_check.py and tests/preset_check.py: runs
tests/preset_kinks <preset>, compares each printed case with the framework's value, checks the
documented differences, prints a line per case and a summary, and exits 1 on any failure."""
import subprocess
import sys


def clean(v):
    return float(v) + 0.0  # + 0.0 turns -0.0 into 0.0


def compare(binary, preset, version, cases, values, unchecked=None, documented=None):
    """cases: name -> () -> derivative list; values: name -> () -> forward value (NaN checks);
    unchecked: name -> why the framework cannot answer; documented: name -> (() -> value, the
    documented value)."""
    unchecked, documented = unchecked or {}, documented or {}
    out = subprocess.run([binary, preset], capture_output=True, text=True, check=True).stdout
    passed = failed = 0
    for line in out.splitlines():
        name, *vals = line.split()
        kink = [v if v == "error" else clean(v) for v in vals]
        if name in unchecked:
            print(f"skip {name}: kink {kink} ({unchecked[name]})")
            continue
        if name in values:
            ref = [clean(values.pop(name)())]
            ok = str(kink) == str(ref)  # nan == nan as text
        else:
            ref = cases.pop(name)()
            ok = kink == ref
        passed += ok
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: kink {kink} {version} {ref}")
    for name in list(cases) + list(values):
        print(f"FAIL {name}: kink printed nothing")
        failed += 1
    for name, (fn, expected) in documented.items():
        got = fn()
        ok = got == expected
        passed += ok
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name} (documented difference): {version} {got}, documented {expected}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
