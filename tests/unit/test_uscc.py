import pytest

from app.enterprises.uscc import WEIGHTS, check_character, normalise, problem

# Codes printed on public business licences (Huawei, Tencent) and the GB 32100 textbook example.
PUBLISHED = ["914403001922038216", "9144030071526726XG", "91350100M000100Y43"]


def test_weights_are_powers_of_three_mod_31():
    assert WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes_are_valid(code):
    assert problem(code) is None


@pytest.mark.parametrize("code", PUBLISHED)
def test_a_changed_character_breaks_the_check(code):
    position = 10
    swapped = code[:position] + ("1" if code[position] != "1" else "2") + code[position + 1:]
    assert "check character" in problem(swapped)


def test_check_character_completes_a_body():
    body = "91310115MA1H7X7K2"
    assert problem(body + check_character(body)) is None


def test_a_check_value_of_zero_is_written_0():
    # 31 - (sum mod 31) == 31 wraps to 0.
    for n in range(100000, 100400):
        body = f"91310000{n:09d}"
        if check_character(body) == "0":
            assert problem(body + "0") is None
            return
    pytest.fail("no body with check character 0 in range")


@pytest.mark.parametrize(("code", "why"), [
    ("91440300192203821", "18 characters"),
    ("9144030019220382I6", "without I, O"),
    ("91AB0300192203821X", "administrative division"),
])
def test_malformed_codes_say_why(code, why):
    assert why in problem(code)


def test_normalise_upper_cases_and_strips_spaces():
    assert normalise(" 9144 0300 7152 6726xg ") == "9144030071526726XG"
