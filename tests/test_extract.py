import pytest

from grader.extract import (
    Number,
    find_numbers,
    find_shapes,
    mentions_near,
    normalize,
    number_matches,
    shape_matches,
)

# An answer to exercise 2 in the style students write it: markdown lists, bold labels and LaTeX
# fragments wrapped in both \( \) and $ $.
EXERCISE_2_ANSWER = r"""#### 2. Layers, parameters and memory
**Answer:**

1. **Layer one**:
   - Input: 200 x 300 x 3
   - Stride 2 with "same" padding halves each side, rounded up: \( $\lceil \frac{\text{side}}{2} \rceil$ \)
   - Spatial size: \( $\lceil \frac{200}{2} \rceil \times \lceil \frac{300}{2} \rceil$ \) = 100 x 150
   - Output: 100 x 150 x 100 (100 maps)

2. **Layer two**:
   - Spatial size: \( $\lceil \frac{100}{2} \rceil \times \lceil \frac{150}{2} \rceil$ \) = 50 x 75
   - Output: 50 x 75 x 200 (200 maps)

3. **Layer three**:
   - Spatial size: \( $\lceil \frac{50}{2} \rceil \times \lceil \frac{75}{2} \rceil$ \) = 25 x 38
   - Output: 25 x 38 x 400 (400 maps)

##### Parameters

- Layer one: \(100 $\times$ (3 $\times$ 3 $\times$ 3 + 1) = 2800\)
- Layer two: \(200 $\times$ (3 $\times$ 3 $\times$ 100 + 1) = 180200\)
- Layer three: \(400 $\times$ (3 $\times$ 3 $\times$ 200 + 1) = 720400\)
- **Total parameters**: \(2800 + 180200 + 720400 = 903400\)

##### Memory for one image

- Activations (input included): \(180000 + 1500000 + 750000 + 380000 = 2810000\)
- At 4 bytes each: \(2810000 $\times$ 4 = 11240000\) bytes = 11.24 MB
- Weights: \(903400 $\times$ 4 = 3613600\) bytes = 3.61 MB
- **RAM for a single instance**: \(11.24 + 3.61 = 14.85\) MB

##### Memory for a mini-batch of 50

- **RAM for the batch**: \(562 + 3.61 = 565.61\) MB
"""


def spaced(text: str) -> str:
    return " ".join(text.split())


def values(text: str) -> list[float]:
    return [number.value for number in find_numbers(text)]


def only_number(text: str) -> Number:
    numbers = find_numbers(text)
    assert len(numbers) == 1, numbers
    return numbers[0]


# --- normalize ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sign", [r"$\times$", r"\times", r"\cdot", "×", "*", " * ", "&times;"])
def test_normalize_turns_multiplication_signs_into_x(sign):
    assert spaced(normalize(f"3{sign}4")) == "3 x 4"


def test_normalize_keeps_stars_that_are_not_between_numbers():
    assert normalize("*italic* a * b") == "*italic* a * b"


def test_normalize_keeps_a_python_power():
    assert normalize("2**10") == "2**10"


def test_normalize_removes_math_delimiters():
    assert normalize(r"\(a\) \[b\] $c$") == "a b c"


def test_normalize_unwraps_text_and_fractions():
    assert normalize(r"\frac{200}{2}") == "200/2"
    assert normalize(r"\text{input size}") == "input size"
    assert normalize(r"\frac{\text{input size}}{2}") == "input size/2"


def test_normalize_drops_ceilings_sizing_commands_and_braces():
    assert spaced(normalize(r"\left\lceil \frac{75}{2} \right\rceil")) == "75/2"
    assert normalize("10^{5}") == "10^5"


def test_normalize_reads_the_seed_style_ceiling_product():
    written = r"\( $\lceil \frac{200}{2} \rceil \times \lceil \frac{300}{2} \rceil$ \) = 100 x 150"
    assert spaced(normalize(written)) == "200/2 x 300/2 = 100 x 150"


def test_normalize_removes_bold_markers():
    assert normalize("**Total**: __903,400__") == "Total: 903,400"


@pytest.mark.parametrize("space", [r"\,", "~", "\u00a0", "\u2009", "\u202f"])
def test_normalize_turns_thin_and_non_breaking_spaces_into_spaces(space):
    assert normalize(f"903{space}400") == "903 400"


def test_normalize_reads_escaped_percent_superscripts_and_unicode_minus():
    assert normalize(r"99.5\%") == "99.5%"
    assert normalize("10⁵ and 10⁻³") == "10^5 and 10^-3"
    assert normalize("\u22123") == "-3"


def test_normalize_keeps_case():
    assert normalize("Total RAM: 14.85 MB") == "Total RAM: 14.85 MB"


def test_normalize_is_idempotent():
    once = normalize(EXERCISE_2_ANSWER)
    assert normalize(once) == once


# --- find_numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "resolution"),
    [
        ("903,400", 903400, 0.5),
        ("903400", 903400, 0.5),
        ("1,234.5", 1234.5, 0.05),
        ("9.034e5", 903400, 50),
        ("9.034E+05", 903400, 50),
        ("9.034 x 10^5", 903400, 50),
        (r"$9.034 \times 10^{5}$", 903400, 50),
        ("9.034 × 10⁵", 903400, 50),
        ("~0.9 million", 900000, 50000),
        ("0.9M", 900000, 50000),
        ("903.4k", 903400, 50),
        ("903.4K", 903400, 50),
        ("903.4 thousand", 903400, 50),
        ("1.2 billion", 1.2e9, 5e7),
        ("14.85", 14.85, 0.005),
        (".5", 0.5, 0.05),
        ("-3", -3, 0.5),
        ("-0.25", -0.25, 0.005),
        ("10^6", 1e6, 0),
        ("2^10", 1024, 0),
    ],
)
def test_find_numbers_reads_each_notation(text, value, resolution):
    number = only_number(text)
    assert number.value == pytest.approx(value)
    assert number.resolution == pytest.approx(resolution)
    assert number.unit is None
    assert not number.percent


@pytest.mark.parametrize(
    ("text", "value", "unit", "resolution"),
    [
        ("14.85 MB", 14.85, "MB", 0.005),
        ("14.85MB", 14.85, "MB", 0.005),
        ("0.56 GB", 0.56, "GB", 0.005),
        ("14.2 MiB", 14.2, "MiB", 0.05),
        ("3,613,600 bytes", 3613600, "B", 0.5),
        ("0.9MB", 0.9, "MB", 0.05),
        ("562 mb", 562, "MB", 0.5),
        ("1.2 million bytes", 1.2e6, "B", 5e4),
        ("2^10 bytes", 1024, "B", 0),
    ],
)
def test_find_numbers_reads_a_memory_unit_after_the_number(text, value, unit, resolution):
    number = only_number(text)
    assert (number.value, number.unit) == (pytest.approx(value), unit)
    assert number.resolution == pytest.approx(resolution)
    assert number.text == text


def test_find_numbers_ignores_words_that_are_not_units():
    number = only_number("0.9 million parameters")
    assert (number.value, number.unit, number.text) == (900000, None, "0.9 million")


@pytest.mark.parametrize("text", ["99.5%", "99.5 %", "99.5 percent", r"99.5\%"])
def test_find_numbers_flags_percentages(text):
    number = only_number(text)
    assert (number.value, number.percent, number.unit) == (99.5, True, None)
    assert number.resolution == pytest.approx(0.05)


def test_space_grouped_thousands_are_read_both_ways():
    assert values("903 400") == [903, 903400, 400]
    assert values("1 200 000") == [1, 1200000, 200, 0]


def test_a_space_separated_list_also_gives_its_items():
    assert {100, 200, 400} <= set(values("maps: 100 200 400"))


def test_a_thin_space_groups_thousands():
    assert 903400 in values(r"$903\,400$ parameters")


def test_comma_groups_need_exactly_three_digits():
    assert values("1,2") == [1, 2]
    assert values("1,2345") == [1, 2345]


def test_comma_and_space_separate_a_list():
    assert values("(100, 150, 100)") == [100, 150, 100]


def test_digits_inside_words_are_not_numbers():
    assert values("conv2d layer1 x86 mnist_cnn3 3rd 20s") == []


def test_versions_and_addresses_are_not_numbers():
    assert values("tensorflow 2.16.1 on 192.168.0.1") == []


def test_a_number_after_a_word_separated_by_space_is_read():
    assert values("Python 3.11 and layer 1") == [3.11, 1]


def test_a_hyphen_between_numbers_is_not_a_sign():
    assert values("5-3 and a 32-bit float") == [5, 3, 32]


def test_numbers_in_a_product_are_read():
    assert values("100x150 and 3 x 3") == [100, 150, 3, 3]


def test_out_of_range_exponents_are_skipped():
    assert values("1e999 and 0^-1") == []


def test_offsets_index_into_the_normalized_text():
    text = r"**Total**: \(903400 $\times$ 4 = 3613600\) bytes"
    normalized = normalize(text)
    for number in find_numbers(text):
        assert normalized[number.start : number.end] == number.text
    assert [number.text for number in find_numbers(text)] == ["903400", "4", "3613600 bytes"]


def test_keras_summary_numbers():
    summary = "│ conv2d (Conv2D) │ (None, 100, 150, 100) │ 2,800 │\n Total params: 903,400 (3.45 MB)\n"
    numbers = find_numbers(summary)
    assert [number.value for number in numbers] == [100, 150, 100, 2800, 903400, 3.45]
    assert numbers[-1].unit == "MB"


# --- number_matches -------------------------------------------------------------------------------


def test_exact_value_matches():
    assert number_matches(only_number("903,400"), 903400)
    assert not number_matches(only_number("903,401"), 903400, accept_rounded=False)


def test_rounding_to_the_written_digits_is_accepted():
    assert number_matches(only_number("3.61 MB"), 3.6136)
    assert number_matches(only_number("~0.9 million"), 903400)
    assert not number_matches(only_number("3.6 MB"), 3.6136 + 0.06)


def test_rounding_can_be_refused():
    assert not number_matches(only_number("3.61 MB"), 3.6136, accept_rounded=False)


def test_relative_and_absolute_tolerances():
    assert number_matches(only_number("14.9"), 14.85, rel_tol=0.01, accept_rounded=False)
    assert not number_matches(only_number("15.1"), 14.85, rel_tol=0.01)
    assert number_matches(only_number("15.1"), 14.85, abs_tol=0.3)


def test_float_noise_does_not_break_an_exact_match():
    assert number_matches(Number(0.1 + 0.2, "0.3", 0, 3, 0.0, None), 0.3, accept_rounded=False)


def test_negative_numbers_match():
    assert number_matches(only_number("-3"), -3)
    assert not number_matches(only_number("-3"), 3)


# --- find_shapes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "dims"),
    [
        ("100 x 150 x 100", (100, 150, 100)),
        ("100x150x100", (100, 150, 100)),
        ("100×150×100", (100, 150, 100)),
        ("100 X 150 X 100", (100, 150, 100)),
        (r"100 \times 150 \times 100", (100, 150, 100)),
        (r"100 $\times$ 150 $\times$ 100", (100, 150, 100)),
        ("100 * 150 * 100", (100, 150, 100)),
        ("(100, 150, 100)", (100, 150, 100)),
        ("(100,150,100)", (100, 150, 100)),
        ("[None, 100, 150, 100]", (None, 100, 150, 100)),
        ("(None, 100, 150, 100)", (None, 100, 150, 100)),
        ("TensorShape([None, 100, 150, 100])", (None, 100, 150, 100)),
        ("(?, 100, 150, 100)", (None, 100, 150, 100)),
        ("(-1, 28, 28, 1)", (None, 28, 28, 1)),
        ("(batch, 28, 28, 1)", (None, 28, 28, 1)),
        ("(batch_size, 28, 28)", (None, 28, 28)),
        ("(100, 150,)", (100, 150)),
        ("100 x 150", (100, 150)),
        ("3 x 3 x 3 = 27", (3, 3, 3)),
    ],
)
def test_find_shapes_reads_each_notation(text, dims):
    shapes = find_shapes(text)
    assert [shape.dims for shape in shapes] == [dims]


@pytest.mark.parametrize(
    "text",
    [
        "9.034 x 10^5",
        "2 x 3 x 10^5",
        "0.5 x 2",
        "200/2 x 300/2",
        "(1.5, 2)",
        "(100,)",
        "2,800 x 4",
        "100 x (27 + 1)",
        "(Nonesuch, 2)",
    ],
)
def test_find_shapes_ignores_what_is_not_a_shape(text):
    assert find_shapes(text) == []


@pytest.mark.parametrize("text", ["50 x 75 maps (200 of them)", "50 × 75 (200 maps)", "50 × 75, with 200 feature maps",
                                  "200 feature maps of 50 x 75"])
def test_maps_written_apart_from_their_size_make_a_shape(text):
    assert (50, 75, 200) in [shape.dims for shape in find_shapes(text)]


def test_a_ceiling_expression_yields_only_the_result():
    written = r"\( $\lceil \frac{200}{2} \rceil \times \lceil \frac{300}{2} \rceil$ \) = 100 x 150"
    assert [shape.dims for shape in find_shapes(written)] == [(100, 150)]


def test_shape_offsets_index_into_the_normalized_text():
    text = r"Output: \(100 $\times$ 150 $\times$ 100\) and (None, 50, 75, 200)"
    normalized = normalize(text)
    shapes = find_shapes(text)
    assert [normalized[shape.start : shape.end] for shape in shapes] == [shape.text for shape in shapes]
    assert [shape.dims for shape in shapes] == [(100, 150, 100), (None, 50, 75, 200)]


# --- shape_matches --------------------------------------------------------------------------------


def test_shape_matches_equal_shapes():
    assert shape_matches((100, 150, 100), (100, 150, 100))


def test_shape_matches_drops_one_leading_batch_dimension():
    assert shape_matches((None, 100, 150, 100), (100, 150, 100))


@pytest.mark.parametrize(
    "found",
    [
        (1, 100, 150, 100),
        (None, None, 100, 150, 100),
        (100, None, 150),
        (100, 150),
        (150, 100, 100),
        (None, 100, 150),
    ],
)
def test_shape_matches_rejects_other_shapes(found):
    assert not shape_matches(found, (100, 150, 100))


# --- mentions_near --------------------------------------------------------------------------------


def where(text: str, fragment: str) -> tuple[int, int]:
    start = text.index(fragment)
    return start, start + len(fragment)


def test_mentions_near_looks_before_and_after():
    text = "Total RAM: 14.85 MB for one instance"
    assert mentions_near(text, *where(text, "14.85 MB"), [r"\bram\b"])
    assert mentions_near(text, *where(text, "14.85 MB"), ["instance"])
    assert not mentions_near(text, *where(text, "14.85 MB"), ["batch"])


def test_mentions_near_respects_the_window():
    text = "parameters" + " filler" * 20 + " 903400"
    assert not mentions_near(text, *where(text, "903400"), ["param"], window=80)
    assert mentions_near(text, *where(text, "903400"), ["param"], window=200)


def test_mentions_near_does_not_cross_a_blank_line():
    text = "Memory used\n\n903400\n   \nparameters"
    assert not mentions_near(text, *where(text, "903400"), ["memory", "param"])


def test_mentions_near_crosses_single_line_breaks():
    text = "- total parameters:\n- 903400"
    assert mentions_near(text, *where(text, "903400"), ["param"])


def test_mentions_near_does_not_cross_a_heading_line():
    text = "batch of 50\n##### Memory for one image\n- 14.85 MB\n## Exercise 3: batch size"
    assert not mentions_near(text, *where(text, "14.85 MB"), ["batch", "image"])


def test_a_number_in_a_heading_sees_only_the_heading():
    text = "RAM\n#### 2. 100 feature maps\nparameters"
    assert mentions_near(text, *where(text, "100"), ["feature"])
    assert not mentions_near(text, *where(text, "100"), ["ram", "param"])


# --- the exercise 2 answer ------------------------------------------------------------------------


def test_exercise_2_shapes_are_all_found():
    dims = [shape.dims for shape in find_shapes(EXERCISE_2_ANSWER)]
    expected = [(200, 300, 3), (100, 150), (100, 150, 100), (50, 75), (50, 75, 200), (25, 38), (25, 38, 400)]
    assert set(expected) <= set(dims)
    assert all(len(shape) >= 2 for shape in dims)


def test_exercise_2_parameter_counts_are_found():
    assert {2800, 180200, 720400, 903400} <= set(values(EXERCISE_2_ANSWER))


def test_exercise_2_memory_sizes_carry_their_units():
    numbers = find_numbers(EXERCISE_2_ANSWER)
    with_units = {(number.value, number.unit) for number in numbers if number.unit}
    expected = {(11240000, "B"), (3613600, "B"), (11.24, "MB"), (3.61, "MB"), (14.85, "MB"), (565.61, "MB")}
    assert expected <= with_units


def test_exercise_2_memory_answers_stand_near_their_words():
    text = normalize(EXERCISE_2_ANSWER)
    numbers = {number.text: number for number in find_numbers(EXERCISE_2_ANSWER)}
    single, batch = numbers["14.85 MB"], numbers["565.61 MB"]
    assert mentions_near(text, single.start, single.end, ["single instance"])
    assert not mentions_near(text, single.start, single.end, ["batch"])
    assert mentions_near(text, batch.start, batch.end, ["batch"])
    assert not mentions_near(text, batch.start, batch.end, ["single"])
