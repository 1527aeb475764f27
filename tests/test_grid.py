import numpy as np
import pandas as pd
import pytest

from planner.errors import InputDataError, UsageError
from planner.grid import known_zones, load_grid, read_grid_file, window_intensity

OLD_HEADER = ("Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),"
              "Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,"
              "Data Source,Data Estimated,Data Estimation Method")
NEW_HEADER = ("Datetime (UTC),Zone name,Zone id,Carbon intensity gCO₂eq/kWh (direct),"
              "Carbon intensity gCO₂eq/kWh (Life cycle),Carbon-free energy percentage (CFE%),"
              "Renewable energy percentage (RE%),Data source,Data estimated,"
              "Data estimation method")


def test_every_shipped_zone_loads():
    zones = known_zones()
    assert {"FR", "DE-LU", "GB", "US-CAL-CISO", "US-TEX-ERCO", "US-MIDA-PJM", "US-NY-NYIS",
            "CA-ON", "ZA", "SG", "KR", "JP-TK", "IN-WE", "AU-NSW", "AU-VIC", "BR-SP",
            "CL-SIC", "EIA-CISO"} <= set(zones)
    for z in zones.values():
        basis = "lifecycle" if "lifecycle" in z.bases else "direct"
        s = load_grid(z.code, basis)
        assert len(s.values) == 8760 * len(z.years)
        assert np.all(s.values >= 0)


def test_zone_codes_are_case_insensitive_and_have_aliases():
    assert load_grid("fr").zone == "FR"
    assert load_grid("de").zone == "DE-LU"
    # 2023 annual means in constants.md: FR 49 lifecycle / 30 direct.
    assert load_grid("FR").mean() == pytest.approx(49.4, abs=0.1)
    assert load_grid("FR", "direct").mean() == pytest.approx(30.4, abs=0.1)


def test_unknown_zone_lists_the_known_ones():
    with pytest.raises(UsageError, match="known zones: .*FR"):
        load_grid("XX-NOWHERE")


def test_eia_series_is_direct_only_and_gaps_are_filled():
    with pytest.raises(UsageError, match="--ci-basis direct"):
        load_grid("EIA-PJM")
    s = load_grid("EIA-PJM", "direct")
    assert any("23 missing hour(s)" in n for n in s.notes)
    assert np.isfinite(s.values).all()


@pytest.mark.parametrize("header,row", [
    (OLD_HEADER, "2023-01-01 00:00:00,France,France,FR,{d},{l},1,1,x,false,"),
    (NEW_HEADER, "2023-01-01 00:00:00,France,FR,{d},{l},1,1,x,false,"),
])
def test_electricitymaps_old_and_new_headers(tmp_path, header, row):
    lines = [header]
    for h in range(3):
        lines.append(row.replace("2023-01-01 00", f"2023-01-01 {h:02d}").format(d=10 + h, l=20 + h))
    p = tmp_path / "em.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert list(read_grid_file(p, "direct").values) == [10, 11, 12]
    assert list(read_grid_file(p, "lifecycle").values) == [20, 21, 22]


def test_simple_csv_and_its_errors(tmp_path):
    p = tmp_path / "ci.csv"
    p.write_text("timestamp,gco2_per_kwh\n2024-01-01T00:00Z,100\n2024-01-01T01:00Z,200\n")
    assert list(load_grid(str(p)).values) == [100, 200]
    p.write_text("timestamp,gco2_per_kwh\n2024-01-01T00:00Z,100\n2024-01-01T01:00Z,abc\n")
    with pytest.raises(InputDataError, match="line 3"):
        load_grid(str(p))
    p.write_text("timestamp,gco2_per_kwh\n2024-01-01T00:00Z,100\n2024-01-01T01:00Z,5000\n")
    with pytest.raises(InputDataError, match="line 3: .*0..2000"):
        load_grid(str(p))
    p.write_text("timestamp,gco2_per_kwh\nyesterday,100\n")
    with pytest.raises(InputDataError, match="line 2: cannot read timestamp"):
        load_grid(str(p))
    with pytest.raises(InputDataError, match="does not exist"):
        load_grid(str(tmp_path / "missing.csv"))
    p.write_text("when,what\n1,2\n")
    with pytest.raises(InputDataError, match="cannot tell the format"):
        load_grid(str(p))


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_a_row_with_more_fields_than_the_header_is_refused_by_its_line(tmp_path, newline):
    # A stray comma shifts every value after it (here the lifecycle column would read the
    # direct value's decimals): the row is refused, not read with its columns shifted.
    rows = [OLD_HEADER] + [f"2023-01-01 {h:02d}:00:00,France,France,FR,35.{h},56.{h},1,1,x,"
                           "false," for h in range(4)]
    good = tmp_path / "good.csv"
    good.write_bytes(newline.join(rows).encode() + newline.encode())
    assert list(read_grid_file(good).values) == [56.0, 56.1, 56.2, 56.3]
    rows[3] = rows[3].replace("35.2", "35,2")
    p = tmp_path / "em.csv"
    p.write_bytes(newline.join(rows).encode())
    with pytest.raises(InputDataError, match=r"em.csv, line 4: 12 fields where the header has "
                                             r"11"):
        read_grid_file(p)
    # The same inside quotes is one field; a quoted row with a stray comma is still refused.
    rows[3] = rows[3].replace("France,France", '"France, mainland",France', 1)
    p.write_bytes(newline.join(rows).encode())
    with pytest.raises(InputDataError, match="line 4: 12 fields"):
        read_grid_file(p)
    rows[3] = rows[3].replace("35,2", "35.2")
    p.write_bytes(newline.join(rows).encode())
    assert list(read_grid_file(p).values) == [56.0, 56.1, 56.2, 56.3]


def test_values_the_csv_reader_cannot_take_as_numbers_are_read_as_text(tmp_path):
    # A cell of spaces is a blank hour (interpolated); white space around a number, even a
    # no-break space, is not part of it.
    p = tmp_path / "ci.csv"
    cells = ["10", " 20 ", "  ", "\u00a040", "50", "60"]
    p.write_text("timestamp,gco2_per_kwh\n" + "".join(
        f"2024-01-01T{h:02d}:00Z,{c}\n" for h, c in enumerate(cells)), encoding="utf-8")
    s = read_grid_file(p)
    assert list(s.values) == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    assert any("1 missing hour(s) filled" in n for n in s.notes)


def test_a_column_named_twice_is_refused(tmp_path):
    p = tmp_path / "ci.csv"
    p.write_text("timestamp,gco2_per_kwh,gco2_per_kwh\n2024-01-01T00:00Z,100,5\n")
    with pytest.raises(InputDataError, match="a column name appears twice"):
        load_grid(str(p))


def _idx(*ts):
    return pd.DatetimeIndex([pd.Timestamp(t, tz="UTC") for t in ts])


def test_window_mean_is_time_weighted(tmp_path):
    p = tmp_path / "ci.csv"
    p.write_text("timestamp,gco2_per_kwh\n2024-01-01T00:00Z,100\n2024-01-01T01:00Z,200\n"
                 "2024-01-01T02:00Z,400\n")
    s = load_grid(str(p))
    wi = window_intensity(s, _idx("2024-01-01T00:30", "2024-01-01T01:00", "2024-01-01T01:15"),
                          _idx("2024-01-01T01:30", "2024-01-01T03:00", "2024-01-01T01:30"))
    assert not wi.aligned
    assert list(wi.values) == pytest.approx([150.0, 300.0, 200.0])


def test_dates_outside_the_series_are_aligned_and_said(tmp_path):
    s = load_grid("FR")
    wi = window_intensity(s, _idx("2025-11-16T18:00"), _idx("2025-11-16T19:00"))
    assert wi.aligned and "aligned to the same month, day and hour of 2023" in wi.notes[0]
    same = window_intensity(s, _idx("2023-11-16T18:00"), _idx("2023-11-16T19:00"))
    assert wi.values[0] == pytest.approx(same.values[0])
    leap = window_intensity(s, _idx("2024-02-29T05:00"), _idx("2024-02-29T06:00"))
    feb28 = window_intensity(s, _idx("2023-02-28T05:00"), _idx("2023-02-28T06:00"))
    assert leap.values[0] == pytest.approx(feb28.values[0])


def test_arrow_and_the_careful_reader_read_a_shipped_year_alike():
    # Grid files are tokenised by Arrow (time stamps parsed by it too), and read by pandas only
    # where Arrow refuses them (a ragged row, a cell that is not a number) or cannot read them
    # alike (a header after a blank line). Both readers give the same times, zone and doubles
    # on a shipped year.
    from planner.grid import _arrow_columns, _careful_columns, _header, known_zones

    from planner.grid import _numbers

    # An Electricity Maps year (stamps without a zone), and an EIA-930 one (stamps with
    # "+00:00"), whose 17-digit decimals pandas' default converter reads one unit in the last
    # place off for about 4 % of the hours.
    for path, used, zone in ((known_zones()["FR"].files[-1], [0, 3, 5], 3),
                             (known_zones()["EIA-AZPS"].files[0], [0, 9], None)):
        data = path.read_bytes()
        text = data.decode("utf-8")
        cols = _header(text)
        value, time = cols[used[-1]], cols[used[0]]
        zone_col = cols[zone] if zone is not None else None
        fast = _arrow_columns(data, cols, value, time, zone_col)
        careful = _careful_columns(path, data, text, cols, used, value, time, zone_col)
        assert fast is not None
        np.testing.assert_array_equal(pd.DatetimeIndex(fast[0]).asi8,
                                      pd.DatetimeIndex(careful[0]).asi8)
        assert str(fast[0].tz) == str(careful[0].tz) == "UTC"
        assert fast[1] == careful[1] and (fast[1] == "FR" if zone is not None else True)
        for a, b in zip(fast[2:], careful[2:]):
            np.testing.assert_array_equal(a, b)
        # The text path (cells quoted as written when one is bad) gives the same doubles.
        cells = np.array(text.splitlines()[1:], dtype=object)
        as_text = np.array([row.split(",")[used[-1]] for row in cells], dtype=object)
        np.testing.assert_array_equal(_numbers(as_text)[0], fast[2])


def test_arrow_reads_each_time_stamp_form_as_pandas_does():
    # Each ISO 8601 form Arrow takes is read to the instant pandas reads it as; every other
    # form (and a file mixing stamps with and without a zone) goes to the careful reader.
    from planner.grid import _arrow_columns

    cols = ["timestamp", "gco2_per_kwh"]
    taken = ["2023-01-01 00:00:00", "2023-01-01T00:00:00", "2023-01-01 00:00", "2023-01-01T00",
             "2023-01-01", "2023-01-01 00:00:00.5", "2023-01-01T00:00:00Z",
             "2023-01-01 00:00:00+00:00", "2023-01-01T00:00:00+01:00",
             "2023-01-01 00:00:00-05:30", "2023-01-01 00:00:00+0100", "2023-01-01 00:00Z"]
    for stamp in taken:
        data = f"timestamp,gco2_per_kwh\n{stamp},5\n".encode()
        fast = _arrow_columns(data, cols, cols[1], cols[0], None)
        assert fast is not None, stamp
        assert fast[0][0] == pd.to_datetime(stamp, format="ISO8601", utc=True), stamp
    for rows in (["2023-01-01 0:00:00"], ["2023-1-1 00:00:00"], [" 2023-01-01 00:00:00"],
                 ["20230101T000000"], ["2023-01"], ["2023-01-01 00:00:00 +00:00"],
                 ["2023-01-01 00:00:00", "2023-01-01T01:00:00Z"],     # with and without a zone
                 ["2023-01-01T00:00:00Z", "2023-01-01 01:00:00"],
                 ["2023-01-01 00:00:00", ""],                          # a blank stamp
                 ["1969-12-31 23:00:00"], ["2201-01-01 00:00:00"],    # out of range
                 ["2023-02-29 00:00:00"], ["2023-01-01 24:00:00"]):
        data = ("timestamp,gco2_per_kwh\n" + "".join(f"{r},5\n" for r in rows)).encode()
        assert _arrow_columns(data, cols, cols[1], cols[0], None) is None, rows


def test_files_arrow_cannot_read_alike_are_read_carefully(tmp_path):
    from planner.grid import _arrow_columns

    cols = ["timestamp", "gco2_per_kwh"]
    for text in ("\ntimestamp,gco2_per_kwh\n2023-01-01T00:00Z,5\n",      # header after a blank
                 '"timestamp",gco2_per_kwh\n2023-01-01T00:00Z,5\n',     # quoted header
                 "timestamp,gco2_per_kwh\r2023-01-01T00:00Z,5\r",       # lone CR line ends
                 "timestamp,gco2_per_kwh\n2023-01-01T00:00Z,nan\n",     # NaN written out
                 "timestamp,gco2_per_kwh\n2023-01-01T00:00Z,-0\n",      # negative zero
                 "timestamp,gco2_per_kwh\n2023-01-01T00:00Z,5,6\n"):    # a wide row
        assert _arrow_columns(text.encode(), cols, cols[1], cols[0], None) is None, text
    # And read through the file reader, these still read (or are refused by their line).
    p = tmp_path / "g.csv"
    p.write_text("\ntimestamp,gco2_per_kwh\n2023-01-01T00:00Z,5\n2023-01-01T01:00Z,7\n")
    assert list(read_grid_file(p).values) == [5.0, 7.0]
    p.write_text("timestamp,gco2_per_kwh\n2023-01-01T00:00Z,nan\n")
    with pytest.raises(InputDataError, match=r"line 2: carbon intensity 'nan' is not a number"):
        read_grid_file(p)
