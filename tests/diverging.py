"""A stand-in for a run that diverges, shared by the input-mistake tests of the palindrome and text commands."""

from __future__ import annotations

import math

import torch


class PoisonedAdam(torch.optim.Adam):
    """Adam that turns the weights into NaN at its third step: a stand-in for a run that diverges."""

    def step(self, closure=None):
        loss = super().step(closure)
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == 3:
            with torch.no_grad():
                for group in self.param_groups:
                    for p in group["params"]:
                        p.fill_(math.nan)
        return loss
