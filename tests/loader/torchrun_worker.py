"""A training loop's data side, run by tests/loader/test_torchrun.py under torchrun (gloo, 127.0.0.1).

Each rank logs the windows of every batch it gets and saves its loader's state dict after
every step (temp file + rename); ``--kill-after K`` SIGKILLs every rank once step K is saved,
as a crash would; ``--resume FILE`` restores a state dict (any rank's) first.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
from pathlib import Path


def main() -> None:
    import numpy as np
    import torch
    import torch.distributed as dist

    from tokenmill.loader.dataloader import create_dataloader

    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--stride", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--epoch", type=int, default=0)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--kill-after", type=int, default=0)
    parser.add_argument("--resume", type=Path)
    # A common order in training scripts: the loader first, then init_process_group.
    parser.add_argument("--loader-first", action="store_true")
    args = parser.parse_args()

    tokens = np.load(args.tokens, mmap_mode="r")

    def make_loader() -> object:
        # rank and world_size are not passed: they come from torch.distributed.
        return create_dataloader(
            tokens, batch_size=args.batch_size, max_length=args.stride, stride=args.stride,
            seed=args.seed, drop_last=False, stateful=True, num_workers=args.num_workers,
        )

    early = make_loader() if args.loader_first else None
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    loader = early or make_loader()
    assert (loader.sampler.rank, loader.sampler.world_size) == (rank, world_size)
    if args.resume is not None:
        loader.load_state_dict(torch.load(args.resume)["loader"])
    loader.sampler.set_epoch(args.epoch)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / f"rank{rank}.jsonl", "a", encoding="utf-8") as log:
        for step, (inputs, _targets) in enumerate(loader, 1):
            windows = (inputs[:, 0] // args.stride).tolist()
            log.write(json.dumps({"step": step, "windows": windows}) + "\n")
            log.flush()
            tmp = args.out / f"ckpt-rank{rank}.pt.tmp"
            torch.save({"step": step, "loader": loader.state_dict()}, tmp)
            os.replace(tmp, args.out / f"ckpt-rank{rank}.pt")
            if step == args.kill_after:
                dist.barrier()  # every rank has saved step K: then all die at once
                os.kill(os.getpid(), signal.SIGKILL)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
