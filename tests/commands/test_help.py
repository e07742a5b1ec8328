"""Every command's ``--help`` is complete: a description, and a help line for every argument."""

from __future__ import annotations

import argparse

import pytest

from xpose.cli import COMMANDS, build_parser, main


def _subparser(command: str) -> argparse.ArgumentParser:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices[command]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_argument_is_explained(command: str) -> None:
    """argparse lists every option by itself; what it cannot check is that each says what it
    does, and that choices and defaults are named where the reader needs them."""
    parser = _subparser(command)
    assert parser.description and len(parser.description) > 40
    for action in parser._actions:
        name = "/".join(action.option_strings) or action.dest
        assert action.help and action.help != argparse.SUPPRESS, f"{command} {name}: no help"
        assert len(action.help) > 8, f"{command} {name}: help {action.help!r} says too little"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_exits_0_and_prints_the_description(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert " ".join(_subparser(command).description.split())[:40] in out
