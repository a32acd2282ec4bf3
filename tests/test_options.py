"""Per-command option dataclasses (issue 11): built by keyword, so a misspelt
option is an error and never a silent default; every flag of a command maps
to a field of its dataclass, and every field not set by a flag is listed."""

import dataclasses

import pytest

from gwaslmm.drivers import options as O
from gwaslmm_cli import assoc, grm, merge, plot, reml
from gwaslmm_cli.options import RENAME

COMMANDS = [(grm.grm, O.GrmOptions), (reml.reml, O.RemlOptions), (assoc.assoc, O.AssocOptions),
            (merge.merge, O.MergeOptions), (plot.plot, O.PlotOptions)]
NOT_FLAGS = {"command_line"}  # set by the CLI itself
NO_FLAG_IN = {"merge": {"threads"}, "plot": {"threads"}}


@pytest.mark.parametrize("command,cls", COMMANDS, ids=[c.name for c, _ in COMMANDS])
def test_flags_and_fields_match(command, cls):
    flags = {RENAME.get(p.name, p.name) for p in command.params} - {"debug"}
    fields = {f.name for f in dataclasses.fields(cls)}
    assert flags <= fields, flags - fields
    assert fields - flags == NOT_FLAGS | NO_FLAG_IN.get(command.name, set())


def test_misspelt_option_is_an_error():
    with pytest.raises(TypeError, match="tset"):
        O.AssocOptions(bfile="x", out="y", tset="lrt")
    with pytest.raises(TypeError):
        O.GrmOptions("x", "y")  # keyword only


def test_options_are_frozen_and_validated_at_construction():
    from gwaslmm.errors import UsageError

    o = O.AssocOptions(bfile="x", out="y")
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.test = "lrt"
    with pytest.raises(UsageError, match="--maf must be in"):
        O.GrmOptions(bfile="x", out="y", maf=0.7)
