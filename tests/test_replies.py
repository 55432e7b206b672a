from tfagent.agent.loop.replies import MAX_FILES, check_path, parse_reply, strip_reasoning


def test_titled_blocks_become_files_and_prose_is_ignored():
    reply = 'Here you go.\n```hcl title="main.tf"\nresource "a" "b" {}\n```\nAnd:\n```hcl title="vars/variables.tf"\nvariable "x" {}\n```\nDone.'
    parsed = parse_reply(reply)
    assert parsed.ok
    assert parsed.files == {"main.tf": 'resource "a" "b" {}\n', "vars/variables.tf": 'variable "x" {}\n'}


def test_single_unlabeled_block_is_main_tf():
    parsed = parse_reply("```hcl\nresource \"a\" \"b\" {}\n```")
    assert parsed.files == {"main.tf": 'resource "a" "b" {}\n'}


def test_other_name_conventions():
    assert parse_reply("```main.tf\nx = 1\n```").files == {"main.tf": "x = 1\n"}
    assert parse_reply("```hcl outputs.tf\nx = 1\n```").files == {"outputs.tf": "x = 1\n"}
    assert parse_reply("**network.tf**\n\n```hcl\nx = 1\n```").files == {"network.tf": "x = 1\n"}


def test_unlabeled_blocks_of_other_languages_are_ignored():
    parsed = parse_reply("Run:\n```bash\nterraform init\n```\n```hcl\nx = 1\n```")
    assert parsed.files == {"main.tf": "x = 1\n"}


def test_reasoning_is_dropped_in_all_its_forms():
    assert parse_reply("<think>```hcl title=\"evil.tf\"\n```</think>```hcl\nx = 1\n```").files == {"main.tf": "x = 1\n"}
    text, reasoning = strip_reasoning("planning the bucket</think>\n```hcl\nx = 1\n```")
    assert reasoning == "planning the bucket" and "planning" not in text
    text, reasoning = strip_reasoning("ok <think>never closed ```hcl\ny\n```")
    assert text == "ok " and "never closed" in reasoning
    parsed = parse_reply("```hcl\nx = 1\n```", reasoning="server-side reasoning")
    assert parsed.reasoning == "server-side reasoning"


def test_no_file_in_reply():
    parsed = parse_reply("I cannot help with that.")
    assert not parsed.ok and parsed.files == {} and parsed.diagnostics == []


def test_hostile_paths_are_rejected_and_nothing_is_kept():
    for bad, why in [
        ("/etc/passwd", "absolute"), ("../outside.tf", ".."), ("a/../../x.tf", ".."), ("C:/x.tf", "drive letter"),
        ("a\\b.tf", "backslash"), ("~/x.tf", "absolute"), (".git/config", "reserved"), ("x" * 300 + ".tf", "longer"),
    ]:
        parsed = parse_reply(f'```hcl title="ok.tf"\nx = 1\n```\n```hcl title="{bad}"\ny = 1\n```')
        assert parsed.files == {}, bad
        assert parsed.diagnostics and why in parsed.diagnostics[0].summary, (bad, parsed.diagnostics)
        assert parsed.diagnostics[0].category == "unsafe_path"
    assert check_path("a\x00b.tf")[1] == "contains a NUL byte"
    assert check_path("./mod/./main.tf") == ("mod/main.tf", None)


def test_too_many_files_and_too_many_bytes():
    many = "".join(f'```hcl title="f{i}.tf"\nx = {i}\n```\n' for i in range(MAX_FILES + 1))
    parsed = parse_reply(many)
    assert parsed.files == {} and "at most 50" in parsed.diagnostics[0].summary
    big = '```hcl title="big.tf"\n' + ("#" * 1100 * 1024) + "\n```"
    parsed = parse_reply(big)
    assert parsed.files == {} and "bytes" in parsed.diagnostics[0].summary


def test_unterminated_block_is_kept():
    assert parse_reply('```hcl title="main.tf"\nx = 1\n').files == {"main.tf": "x = 1\n"}
