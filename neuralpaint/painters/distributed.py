"""Data-parallel painter training: one process per CPU group or GPU, under torchrun.

``torchrun --nproc_per_node N -m neuralpaint painter train ...`` starts N copies of the
ordinary training run. :meth:`Replicas.from_env` reads the ranks torchrun puts in the
environment and joins the process group (gloo on CPU, NCCL on CUDA); without torchrun
it is a single replica and every method is a no-op, so the training loops have one code
path.

Each replica streams its own shards and takes its own batches, so the effective batch
is ``batch_size x N``. Gradients are averaged across replicas before every optimizer
step, which keeps the weights identical everywhere; rank 0 alone logs, checkpoints and
exports. The regression painter is wrapped in ``DistributedDataParallel``. The VAE calls
its encoder and decoder outside ``forward`` and the GAN's critic runs several forward
passes (and a gradient penalty) per backward, which DDP's reducer does not allow, so
those loops average gradients with an all-reduce in an optimizer pre-step hook instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


@dataclass(frozen=True)
class Replicas:
    """This process's place among the data-parallel replicas."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    cuda: bool = False

    @classmethod
    def from_env(cls, device: str) -> Replicas:
        """Join the process group torchrun describes in ``WORLD_SIZE``, ``RANK`` and
        ``LOCAL_RANK``; a single replica when they are absent."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
        cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
        if cuda:
            torch.cuda.set_device(local_rank)  # "cuda" now means this replica's GPU
        if not dist.is_initialized():
            dist.init_process_group("nccl" if cuda else "gloo")
        return cls(rank, world, local_rank, cuda)

    @property
    def main(self) -> bool:
        """Whether this replica logs and writes files."""
        return self.rank == 0

    def parallel(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` wrapped in ``DistributedDataParallel`` (itself when alone). Call the
        wrapper for training steps; evaluate and save the module itself."""
        if self.world == 1:
            return module
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(module, device_ids=[self.local_rank] if self.cuda else None)

    def average_gradients(self, *optimizers: torch.optim.Optimizer) -> None:
        """Start every replica from rank 0's weights and average gradients across
        replicas before each step of these optimizers (DDP's job, for loops it cannot
        wrap)."""
        if self.world == 1:
            return
        for opt in optimizers:
            params = [p for group in opt.param_groups for p in group["params"]]
            with torch.no_grad():
                for p in params:
                    dist.broadcast(p, src=0)

            def average(opt: torch.optim.Optimizer, *_, params=params) -> None:
                grads = [p.grad for p in params if p.grad is not None]  # same on every rank
                if not grads:
                    return
                flat = torch.cat([g.flatten() for g in grads])  # one collective, not one each
                dist.all_reduce(flat, op=dist.ReduceOp.SUM)
                flat /= self.world
                for g, part in zip(grads, flat.split([g.numel() for g in grads]), strict=True):
                    g.copy_(part.view_as(g))

            opt.register_step_pre_hook(average)

    def latest(self, seconds: float) -> float:
        """The largest of the replicas' ``seconds``. Agreeing on elapsed time keeps the
        learning rate, the VAE's stage and the moment to stop the same everywhere (a
        replica that stopped alone would leave the others waiting in a collective)."""
        if self.world == 1:
            return seconds
        value = torch.tensor([seconds], dtype=torch.float64, device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return float(value.item())

    @property
    def device(self) -> str:
        return "cuda" if self.cuda else "cpu"

    def from_main(self, fn: Callable[[], T]) -> T:
        """``fn()`` run on rank 0 and sent to every replica (reading a checkpoint that
        only rank 0's storage holds)."""
        if self.world == 1:
            return fn()
        box = [fn() if self.main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()
