import pytest

from grader.units import UNIT_BYTES, canonical_unit, convert, is_binary, to_bytes


def test_decimal_units_count_in_powers_of_1000():
    assert [UNIT_BYTES[unit] for unit in ("B", "KB", "MB", "GB", "TB")] == [1, 10**3, 10**6, 10**9, 10**12]


def test_binary_units_count_in_powers_of_1024():
    assert [UNIT_BYTES[unit] for unit in ("KiB", "MiB", "GiB", "TiB")] == [2**10, 2**20, 2**30, 2**40]


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("B", "B"),
        ("byte", "B"),
        ("bytes", "B"),
        ("Bytes", "B"),
        ("kB", "KB"),
        ("KB", "KB"),
        ("kb", "KB"),
        ("kilobytes", "KB"),
        ("MB", "MB"),
        ("mb", "MB"),
        ("Mb", "MB"),
        ("MByte", "MB"),
        ("MBytes", "MB"),
        ("megabyte", "MB"),
        ("Megabytes", "MB"),
        ("GB", "GB"),
        ("gigabytes", "GB"),
        ("TB", "TB"),
        ("terabyte", "TB"),
        ("KiB", "KiB"),
        ("kibibytes", "KiB"),
        ("MiB", "MiB"),
        ("mib", "MiB"),
        ("mebibytes", "MiB"),
        ("GiB", "GiB"),
        ("gibibyte", "GiB"),
        ("TiB", "TiB"),
        ("tebibytes", "TiB"),
        (" MB ", "MB"),
        ("MB.", "MB"),
    ],
)
def test_canonical_unit_reads_usual_spellings(written, canonical):
    assert canonical_unit(written) == canonical


@pytest.mark.parametrize("written", ["", "b", "bits", "Mbit", "M", "k", "meters", "MBB", "kilo"])
def test_canonical_unit_rejects_what_is_not_a_byte_unit(written):
    assert canonical_unit(written) is None


def test_to_bytes():
    assert to_bytes(14.85, "MB") == pytest.approx(14_850_000)
    assert to_bytes(1.5, "KiB") == 1536
    assert to_bytes(4, "bytes") == 4


def test_convert_between_decimal_and_binary_units():
    assert convert(14.85, "MB", "MiB") == pytest.approx(14.162, abs=1e-3)
    assert convert(562, "MB", "GB") == pytest.approx(0.562)
    assert convert(3_613_600, "B", "MB") == pytest.approx(3.6136)
    assert convert(1, "GiB", "MiB") == 1024


def test_convert_accepts_any_spelling():
    assert convert(1, "megabytes", "kB") == pytest.approx(1000)


def test_is_binary():
    assert is_binary("MiB")
    assert is_binary("gibibytes")
    assert not is_binary("MB")
    assert not is_binary("B")


def test_unknown_units_raise_value_error():
    with pytest.raises(ValueError, match="unknown memory unit 'Mbit'"):
        to_bytes(1, "Mbit")
    with pytest.raises(ValueError, match="unknown memory unit 'b'"):
        convert(1, "MB", "b")
    with pytest.raises(ValueError, match="unknown memory unit"):
        is_binary("x")
