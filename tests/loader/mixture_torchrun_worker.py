"""A mixture's training loop, data side, run by tests/loader/test_mixture_torchrun.py under torchrun (gloo).

Each rank logs the (component, window) of every row it gets, epoch by epoch, and saves its
loader's state after every step; ``--kill-after K`` SIGKILLs every rank once step K is saved.
Component k's tokens are ``k * 10**6 + i``, so a row's first token says where it came from.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
from pathlib import Path

L = 4  # max_length = stride


def main() -> None:
    import numpy as np
    import torch
    import torch.distributed as dist

    from tokenmill.loader.dataloader import create_dataloader

    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--weights", required=True)  # JSON: a mapping or a schedule
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--kill-after", type=int, default=0)
    args = parser.parse_args()

    names = json.loads((args.data / "names.json").read_text())
    source = {n: np.load(args.data / f"{n}.npy", mmap_mode="r") for n in names}
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    loader = create_dataloader(
        source, weights=json.loads(args.weights), seed=5, batch_size=args.batch_size, max_length=L,
        drop_last=False, stateful=True,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    step = 0
    with open(args.out / f"rank{rank}.jsonl", "a", encoding="utf-8") as log:
        for epoch in range(args.epochs):
            loader.sampler.set_epoch(epoch)
            for i, (inputs, _targets) in enumerate(loader):
                step += 1
                rows = [[t // 10**6, (t % 10**6) // L] for t in inputs[:, 0].tolist()]
                log.write(json.dumps({"step": step, "batch": [epoch, i], "rows": rows}) + "\n")
                log.flush()
                tmp = args.out / f"ckpt-rank{rank}.pt.tmp"
                torch.save({"step": step, "loader": loader.state_dict()}, tmp)
                os.replace(tmp, args.out / f"ckpt-rank{rank}.pt")
                if step == args.kill_after:
                    dist.barrier()
                    os.kill(os.getpid(), signal.SIGKILL)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
