"""Type names for code that reads a show validated either way.

A show is validated into the pydantic model (``runofshow.model``: the service, the JSON Schema)
or into plain classes of the same shape (``runofshow.plain``: ``facilbot lint``, which must not
pay for importing pydantic). The schedule, the flex ranges and the lint rules read both; these
aliases name either. They exist for the type checker only: nothing is imported at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from runofshow import model, plain

AnyShow: TypeAlias = "model.Show | plain.Show"
AnySegment: TypeAlias = "model.Segment | plain.Segment"
AnyCue: TypeAlias = "model.Cue | plain.Cue"
AnyBreakRule: TypeAlias = "model.BreakRule | plain.BreakRule"
AnyRules: TypeAlias = "model.Rules | plain.Rules"
AnyBreakout: TypeAlias = "model.Breakout | plain.Breakout"
AnyAssign: TypeAlias = "model.Assign | plain.Assign"
AnyProducerNotes: TypeAlias = "model.ProducerNotes | plain.ProducerNotes"
AnyPreworkLink: TypeAlias = "model.PreworkLink | plain.PreworkLink"
