"""The signature stage of ``harness clean`` as a datatrove pipeline step (``--engine datatrove``).

Stage 1 is the only stage whose cost grows with the text (the others work on fixed-width arrays), so it
is the one handed to an engine for many machines. :class:`SignatureStep` processes the chunks of its rank
(``chunks[rank::world_size]``) and writes the same ``chunk-NNNNN.npz`` files as the local engine, so the
result is identical whichever executor ran it. Here it runs under ``LocalPipelineExecutor``; on a cluster,
build the same step and give it to datatrove's ``SlurmPipelineExecutor`` or ``RayPipelineExecutor`` with the
work folder on shared storage, then run ``harness clean`` with the same options to finish (finished chunks
are found and not redone)::

    from synth.clean import CleanConfig, build_index, plan_chunks
    from synth.clean_datatrove import SignatureStep
    from datatrove.executor import SlurmPipelineExecutor
    cfg = CleanConfig()
    step = SignatureStep(plan_chunks(files, int(cfg.chunk_mb * 2**20)), cfg, build_index(cfg), "out.jsonl.work")
    SlurmPipelineExecutor([step], tasks=64, time="02:00:00", partition="cpu", logging_dir="logs/clean").run()

Note: the work folder must hold the ``key.json`` that ``harness clean`` writes (run it once with
``--engine datatrove`` on one machine, or copy the key) or the chunks are discarded as foreign.
"""

from __future__ import annotations

from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.base import PipelineStep

from synth.clean_signatures import Chunk, CleanConfig, chunk_file, process_chunk


class SignatureStep(PipelineStep):
    """Compute the signature arrays of the chunks of one rank (a datatrove pipeline step)."""

    name = "harness clean: signatures"
    type = "🔢 - HASH"

    def __init__(self, chunks: list[Chunk], cfg: CleanConfig, index, work: str | Path):
        super().__init__()
        self.chunks, self.cfg, self.index, self.work = chunks, cfg, index, Path(work)

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        for c in self.chunks[rank::world_size]:
            if not chunk_file(self.work, c.k).is_file():
                with self.track_time():
                    process_chunk(c, self.cfg, self.index, self.work)
                self.stat_update("chunks")


def run_datatrove(pending: list[Chunk], cfg: CleanConfig, index, work: Path) -> None:
    """Run the signature stage of ``pending`` chunks with datatrove's local executor on ``cfg.workers``."""
    if not pending:
        return
    tasks = min(cfg.workers, len(pending))
    ex = LocalPipelineExecutor([SignatureStep(pending, cfg, index, work)], tasks=tasks, workers=tasks,
                               logging_dir=str(work / "datatrove"), skip_completed=False)
    ex.run()
    left = [c.k for c in pending if not chunk_file(work, c.k).is_file()]
    if left:
        from harness.errors import HarnessError

        raise HarnessError(f"datatrove finished without chunks {left[:5]} ({len(left)} in all); see its logs in "
                           f"{work / 'datatrove'}. Re-run the same command to continue.")
