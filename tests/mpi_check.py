#!/usr/bin/env python3
"""Data-parallel training over MPI gives the bytes of one process, and a dead rank loses nothing.

1. tests/mpi_check (an MLP in float and double, a CNN, a residual CNN with batch norm in float
   and double) alone on 1 and 3 threads, and under
   mpirun -np 2 (1 and 2 threads each) and -np 3 --oversubscribe: every run prints the same
   hashes of parameters, gradients and losses, equal to program::step's in one process.
2. examples/fashion_mnist, fashion_cnn and fashion_resnet (batch norm) under mpirun: two epochs on one process, and one epoch
   under -np 2, interrupted, resumed under -np 3: the same checkpoint file, byte for byte.
3. A rank killed (SIGKILL) in the middle of a run under mpirun -np 2: mpirun ends the run with a
   non-zero status and a message naming rank 1, and the last checkpoint resumes (atomic write).
4. A rank that fails alone ends every rank within seconds, with one message naming the rank and
   the cause: rank 0 unable to write its curves in the middle of a run (the ranks used to hang, the
   others waiting in a step, rank 0 in MPI_Finalize), whose last checkpoint then resumes; rank 1
   unable to read its data (mpirun's MPMD form gives it another --data). Ranks that bind different
   batches (another --batch, another --seed on rank 1) are refused in the first step with kink's
   message, once (not MPI's truncation error), and a refused resume is said once, not per rank.
   SIGTERM to mpirun (which passes it to every rank): the ranks stop after the same step, with
   one message, no temporary file, and the checkpoint resumes.

usage: mpi_check.py MPIRUN MPI_CHECK_EXE FASHION_MNIST_EXE FASHION_CNN_EXE FASHION_RESNET_EXE"""
import os, pathlib, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from resume_check import tensors  # noqa: E402

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_btl="self,vader,tcp", OMPI_MCA_btl_tcp_if_include="lo", OMPI_MCA_oob_tcp_if_include="lo")


def run(cmd, **kw):
    return subprocess.run(cmd, env=ENV, check=True, capture_output=True, text=True, timeout=600, **kw).stdout


def main() -> int:
    mpirun, check, mlp, cnn, resnet = sys.argv[1:6]
    failures = 0

    # 1. the same bytes for every number of ranks and threads
    alone = run([check, "1"]).splitlines()
    mpi_lines = [l for l in alone if "(program::step)" not in l]
    step_lines = [l.replace(" (program::step)", "") for l in alone if "(program::step)" in l]
    if mpi_lines != step_lines or len(mpi_lines) != 5:
        print("one process: mpi::step and program::step differ:\n" + "\n".join(alone))
        failures += 1
    for label, cmd in (("1 process, 3 threads", [check, "3"]),
                       ("2 ranks x 1 thread", [mpirun, "-np", "2", check, "1"]),
                       ("2 ranks x 2 threads", [mpirun, "-np", "2", "--oversubscribe", check, "2"]),
                       ("3 ranks x 1 thread", [mpirun, "-np", "3", "--oversubscribe", check, "1"])):
        got = [l for l in run(cmd).splitlines() if "(program::step)" not in l]
        if got != mpi_lines:
            print(f"{label}: {got} != {mpi_lines}")
            failures += 1
        else:
            print(f"{label}: identical ({', '.join(mpi_lines)})")

    # 2. the examples under mpirun, interrupted and resumed on another number of ranks
    with tempfile.TemporaryDirectory() as tmp:
        for exe in (mlp, cnn, resnet):
            name = pathlib.Path(exe).name
            # the ResNet on fewer images (a step is ~10x the CNN's); batch 64: chunks 32, 32 on 2 ranks
            limit = "256" if exe == resnet else "640"
            common = [exe, "--limit", limit, "--epochs", "2", "--batch", "64", "--threads", "1"]
            a, b = f"{tmp}/{name}-a", f"{tmp}/{name}-b"
            run(common + ["--out", a])
            run([mpirun, "-np", "2"] + common + ["--out", b, "--stop-after", "1"])
            out = run([mpirun, "-np", "3", "--oversubscribe"] + common + ["--out", b, "--resume"])
            if "resumed from" not in out or "MPI: 3 ranks" not in out:
                print(f"{name}: the resumed run under mpirun did not say so:\n{out}")
                failures += 1
            ta, tb = tensors(f"{a}/checkpoint.safetensors"), tensors(f"{b}/checkpoint.safetensors")
            fa, fb = (pathlib.Path(f"{d}/checkpoint.safetensors").read_bytes() for d in (a, b))
            if ta != tb:
                print(f"{name}: checkpoint tensors differ between 1 process and 2 then 3 ranks")
                failures += 1
            elif fa != fb:
                print(f"{name}: the checkpoint tensors agree but the files differ (metadata) between 1 process and 2 then 3 ranks")
                failures += 1
            else:
                print(f"{name}: the checkpoint ({len(ta)} tensors) is byte-identical (1 process; 2 ranks, interrupted, resumed on 3)")

        # 3. a rank that dies
        out_dir = f"{tmp}/killed"
        cmd = [mpirun, "-np", "2", mlp, "--limit", "4000", "--epochs", "1000", "--threads", "1", "--out", out_dir]
        proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ckpt = pathlib.Path(out_dir) / "checkpoint.safetensors"
        deadline = time.time() + 120
        while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        victim = None
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                env = pathlib.Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"OMPI_COMM_WORLD_RANK=1" in env and out_dir.encode() in cmdline:
                victim = int(pid)
        if victim is None:
            print("could not find rank 1 of the run to kill")
            proc.kill()
            return 1
        time.sleep(0.5)
        os.kill(victim, 9)
        try:
            log, _ = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            print("the other rank did not stop within 120 s of rank 1's death")
            return 1
        if proc.returncode == 0 or "rank 1" not in log:
            print(f"a dead rank: mpirun exited with {proc.returncode}; its output's end:\n{log[-1500:]}")
            failures += 1
        else:
            print(f"rank 1 killed: mpirun exited with status {proc.returncode} and said: "
                  + next(l.strip() for l in log.splitlines() if "rank 1" in l))
        # the last checkpoint is whole: a resumed run on one process starts from it
        meta = run([sys.executable, "-c", "import sys, json, struct; raw = open(sys.argv[1], 'rb').read(); "
                    "n = struct.unpack('<Q', raw[:8])[0]; print(json.loads(raw[8:8 + n])['__metadata__']['epoch'])",
                    str(ckpt)]).strip()
        epoch = int(meta)
        r = subprocess.run([mlp, "--limit", "4000", "--epochs", "1000", "--threads", "1", "--out", out_dir, "--resume",
                            "--stop-after", str(epoch + 1)], env=ENV, capture_output=True, text=True, timeout=120)
        if r.returncode != 0 or f"resumed from {ckpt} after epoch {epoch}" not in r.stdout:
            print(f"resuming after the dead rank failed ({r.returncode}):\n{r.stdout[-800:]}\n{r.stderr[-800:]}")
            failures += 1
        else:
            print(f"the checkpoint of epoch {epoch} was intact: resumed from it and trained epoch {epoch + 1}")

        # 4. failures of one rank, and ranks that disagree
        def ended(cmd, timeout=60):
            t0 = time.time()
            try:
                r = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                return None, timeout, ""
            return r.returncode, time.time() - t0, r.stderr

        out_dir = f"{tmp}/rank0"
        cmd = [mpirun, "-np", "2", mlp, "--limit", "4000", "--epochs", "1000", "--threads", "1", "--out", out_dir]
        proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        ckpt = pathlib.Path(out_dir) / "checkpoint.safetensors"
        curves = pathlib.Path(out_dir) / "curves.csv"
        deadline = time.time() + 120
        while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        for _ in range(100):  # a folder where rank 0 writes its curves after every epoch
            try:
                curves.unlink(missing_ok=True)
                (curves / "blocker").mkdir(parents=True)
                break
            except OSError:
                time.sleep(0.01)
        t0 = time.time()
        try:
            err = proc.communicate(timeout=60)[1]
        except subprocess.TimeoutExpired:
            proc.kill()
            err = proc.communicate()[1]
            print("rank 0 failed to write its curves: the run hung (killed after 60 s)")
            failures += 1
        else:
            lines = [l for l in err.splitlines() if "rank 0 of 2; ending every rank" in l]
            if proc.returncode == 0 or len(lines) != 1 or "curves.csv" not in lines[0] or "Is a directory" not in lines[0]:
                print(f"rank 0 failed to write its curves: exit {proc.returncode}, stderr:\n{err[-1500:]}")
                failures += 1
            else:
                print(f"rank 0 failed: every rank ended {time.time() - t0:.1f} s later, status {proc.returncode}: {lines[0]}")
            shutil.rmtree(curves)
            meta = json_epoch(ckpt)
            r = subprocess.run([mlp, "--limit", "4000", "--epochs", "1000", "--threads", "1", "--out", out_dir, "--resume",
                                "--stop-after", str(meta + 1)], env=ENV, capture_output=True, text=True, timeout=120)
            if r.returncode != 0 or f"resumed from {ckpt} after epoch {meta}" not in r.stdout:
                print(f"after rank 0's failure, the checkpoint did not resume ({r.returncode}):\n{r.stderr[-800:]}")
                failures += 1
            else:
                print(f"after rank 0's failure, the checkpoint of epoch {meta} resumed")

        common = [mlp, "--limit", "640", "--epochs", "2", "--batch", "64", "--threads", "1"]
        cases = (
            ("rank 1 cannot read its data", ["--out", f"{tmp}/r1"], ["--out", f"{tmp}/r1", "--data", f"{tmp}/nowhere"],
             f"kink: {tmp}/nowhere/train-images-idx3-ubyte.gz: cannot open (No such file or directory) (rank 1 of 2; every rank stops)"),
            ("rank 1 binds batches of 32", ["--out", f"{tmp}/r2"], ["--out", f"{tmp}/r2", "--batch", "32"],
             "kink: mpi::step: rank 1 bound a batch of 32 samples to 'x', rank 0 one of 64: every rank binds the same whole batch"),
            ("rank 1 shuffles with another seed", ["--out", f"{tmp}/r3"], ["--out", f"{tmp}/r3", "--seed", "2"],
             "kink: mpi::step: rank 1 bound other values to 'x' than rank 0 (a batch of 64 samples)"),
        )
        for label, a0, a1, want in cases:
            code, secs, err = ended([mpirun, "-np", "1"] + common + a0 + [":", "-np", "1"] + common + a1)
            if code is None or code == 0 or err.count(want) != 1 or "MPI_ERR" in err:
                print(f"{label}: exit {code} after {secs:.1f} s; wanted one '{want}' in:\n{err[-1500:]}")
                failures += 1
            else:
                print(f"{label}: every rank ended in {secs:.1f} s, status {code}, one message: {want}")
        # a refused resume (another --lr than the checkpoint's): said once, not once per rank
        subprocess.run(common + ["--out", f"{tmp}/r4", "--stop-after", "1"], env=ENV, capture_output=True, timeout=120, check=True)
        code, secs, err = ended([mpirun, "-np", "2"] + common + ["--out", f"{tmp}/r4", "--resume", "--lr", "0.002"])
        want = "written by a run with lr = "
        if code is None or code == 0 or err.count(want) != 1:
            print(f"a refused resume under mpirun: exit {code}; wanted '{want}' once in:\n{err[-1500:]}")
            failures += 1
        else:
            print(f"a refused resume under mpirun -np 2: said once, status {code}")
        sig_dir = pathlib.Path(tmp) / "signalled"
        proc = subprocess.Popen([mpirun, "-np", "2", mlp, "--limit", "4000", "--epochs", "1000", "--threads", "1", "--out", str(sig_dir)],
                                env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while not (sig_dir / "checkpoint.safetensors").exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(0.3)  # into an epoch
        proc.send_signal(15)
        try:
            err = proc.communicate(timeout=60)[1]
        except subprocess.TimeoutExpired:
            proc.kill()
            err = proc.communicate()[1]
        stops = [l for l in err.splitlines() if "stopped by SIGTERM in epoch" in l]
        temps = [p.name for p in sig_dir.iterdir() if ".tmp." in p.name]
        r = subprocess.run([mlp, "--limit", "4000", "--epochs", "1000", "--threads", "1", "--out", str(sig_dir), "--resume",
                            "--stop-after", str(json_epoch(sig_dir / "checkpoint.safetensors") + 1)], env=ENV, capture_output=True,
                           text=True, timeout=120)
        if proc.returncode == 0 or len(stops) != 1 or temps or r.returncode != 0 or "resumed from" not in r.stdout:
            print(f"SIGTERM under mpirun: exit {proc.returncode}, {len(stops)} stop messages, temporary files {temps}, resume "
                  f"exit {r.returncode}; stderr:\n{err[-1500:]}")
            failures += 1
        else:
            print(f"SIGTERM under mpirun -np 2: every rank stopped after the same step (status {proc.returncode}), one message "
                  f"({stops[0].split(': ', 1)[1][:60]}...), no temporary file; the checkpoint resumed")
    return 1 if failures else 0


def json_epoch(ckpt):
    import json, struct
    raw = pathlib.Path(ckpt).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return int(json.loads(raw[8:8 + n])["__metadata__"]["epoch"])


if __name__ == "__main__":
    sys.exit(main())
