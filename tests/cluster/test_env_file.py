"""Env files as docker, compose and systemd read them, and which files belong to which node."""

from __future__ import annotations

from pathlib import Path

from cluster.env_file import Role, load_node_envs, parse_env, role_of


def test_comments_export_quotes_and_inline_comments_give_the_values_the_service_sees() -> None:
    text = "\n".join(
        [
            "# a comment",
            "",
            "export OP_CONDUCTOR_PAUSED=true",
            'OP_CONDUCTOR_NETWORK="op-sepolia"  # quoted',
            "OP_CONDUCTOR_RAFT_STORAGE_DIR='/data/raft # not a comment'",
            "OP_CONDUCTOR_RPC_ADDR=0.0.0.0 # trailing comment",
            'OP_CONDUCTOR_EXECUTION_RPC="http://a\\"b"',
            "OP_CONDUCTOR_NODE_RPC=http://x#y",
        ]
    )
    env = parse_env(text, "c.env")
    values = {k: (v.value, v.line) for k, v in env.vars.items()}
    assert values == {
        "OP_CONDUCTOR_PAUSED": ("true", 3),
        "OP_CONDUCTOR_NETWORK": ("op-sepolia", 4),
        "OP_CONDUCTOR_RAFT_STORAGE_DIR": ("/data/raft # not a comment", 5),
        "OP_CONDUCTOR_RPC_ADDR": ("0.0.0.0", 6),
        "OP_CONDUCTOR_EXECUTION_RPC": ('http://a"b', 7),
        "OP_CONDUCTOR_NODE_RPC": ("http://x#y", 8),
    }
    assert env.problems == () and env.warnings == ()


def test_bad_lines_are_problems_with_their_line_and_a_repeat_is_a_warning() -> None:
    env = parse_env('A=1\nnot a pair\nB=\'open\nC="x" junk\nA=2\n1BAD=3\n', "n.env")
    hint = "(hint: write KEY=VALUE, or start the line with # to comment it out)"
    assert [str(p) for p in env.problems] == [
        f"n.env:2: not KEY=VALUE: 'not a pair' {hint}",
        "n.env:3: B: unterminated ' quote (values cannot span lines here)",
        "n.env:4: C: text after the closing quote: 'junk'",
        f"n.env:6: not KEY=VALUE: '1BAD=3' {hint}",
    ]
    assert [str(w) for w in env.warnings] == [
        "n.env:5: A: set again (first on line 1); this later value wins (hint: keep one of the two lines)"
    ]
    assert env.vars["A"].value == "2"


def test_file_names_say_the_role_and_the_node() -> None:
    assert role_of("op-conductor.env") == (Role.CONDUCTOR, "")
    assert role_of("op-node.env") == (Role.NODE, "")
    assert role_of("seq-0.op-conductor.env") == (Role.CONDUCTOR, "seq-0")
    assert role_of("seq-1-node.env") == (Role.NODE, "seq-1")
    assert role_of("geth.env") is None


def test_a_flat_directory_of_pairs_and_a_directory_per_node_are_both_read(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "seq-0.op-conductor.env").write_text("A=1\n")
    (flat / "seq-0.op-node.env").write_text("B=2\n")
    (flat / "README.md").write_text("ignored\n")
    per_node = tmp_path / "nodes" / "seq-1"
    per_node.mkdir(parents=True)
    (per_node / "op-conductor.env").write_text("C=3\n")
    found = load_node_envs([flat, tmp_path / "nodes"])
    assert found.problems == ()
    by_name = {n.name: n for n in found.nodes}
    assert set(by_name) == {"seq-0", "seq-1"}
    assert by_name["seq-0"].conductor is not None and by_name["seq-0"].node is not None
    assert by_name["seq-1"].node is None


def test_explicit_files_take_the_node_from_their_directory_and_unknown_paths_are_problems(
    tmp_path: Path,
) -> None:
    node = tmp_path / "seq-2"
    node.mkdir()
    (node / "op-conductor.env").write_text("A=1\n")
    (node / "extra.env").write_text("A=1\n")
    found = load_node_envs([node / "op-conductor.env", node / "extra.env", tmp_path / "missing.env"])
    assert [n.name for n in found.nodes] == ["seq-2"]
    assert [p.message for p in found.problems] == [
        "cannot tell whether this is an op-conductor or an op-node env file",
        "no such file or directory",
    ]
