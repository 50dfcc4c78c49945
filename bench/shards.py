"""Scale-out on one machine: a night evaluated whole, against the next night split into N
unit shards evaluated at once by N processes (what N Prefect workers do, without Prefect's
own start-up cost; `tests/nightly/test_scale_out.py` runs the real workers).

    python -m bench.shards URL PLAN_FILE [N]

Runs on a store the other steps have filled (applied, reports, the AS_OF night evaluated):
the whole night is the working day after AS_OF, the split night the one after that; both
are steady nights of the same kind. Prints one JSON line.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

from bench.steps import AS_OF, NOW, _engine

WHOLE_NIGHT = AS_OF + dt.timedelta(days=1)  # Tuesday 2018-07-03
SPLIT_NIGHT = AS_OF + dt.timedelta(days=2)  # Wednesday 2018-07-04


def one_shard(url: str, plan_id: str, shard: int, shards: int, night: dt.date) -> None:
    from plan_tracker.services.nightly import Shard, evaluate_shard

    evaluate_shard(_engine(url), plan_id, night, now=NOW, shard=Shard(shard, shards), worker=f"bench-{shard}")


def main() -> None:
    if sys.argv[1] == "--one":
        one_shard(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), dt.date.fromisoformat(sys.argv[6]))
        return
    from plan_tracker.services.nightly import evaluate

    url, plan_file = sys.argv[1], Path(sys.argv[2])
    shards = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    plan_id = plan_file.stem
    started = time.perf_counter()
    evaluate(_engine(url), plan_id, WHOLE_NIGHT, now=NOW)
    whole = time.perf_counter() - started
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "bench.shards", "--one", url, plan_id, str(k), str(shards),
                               SPLIT_NIGHT.isoformat()]) for k in range(shards)]
    codes = [p.wait() for p in procs]
    split = time.perf_counter() - started
    print(json.dumps({"step": "shards", "shards": shards, "whole_seconds": round(whole, 3),
                      "seconds": round(split, 3), "speedup": round(whole / split, 2),
                      "failed_shards": [k for k, c in enumerate(codes) if c != 0]}))


if __name__ == "__main__":
    main()
