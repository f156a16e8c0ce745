//! How a part stores one series' values: as scaled integers when every value is a decimal of
//! few digits (counters, histogram buckets, most gauges), as raw floats otherwise.
//!
//! A decimal series stores, per sample, `value × 10^exponent` (an integer below 2^53 in
//! magnitude). Parquet's delta-binary-packed encoding then stores the differences between
//! neighbouring rows bit-packed: counters grow by small steps, so with zstd a sample takes
//! under a byte where the raw floats take one and a half, and decoding is a bit-unpacking and
//! a running sum. The encoding is exact: a value is coded this way only if dividing its
//! integer by `10^exponent` gives back its very bits.
//!
//! Format 2 parts stored the differences themselves ([`DeltaDecoder`]), with the scaled value
//! every [`KEY_INTERVAL`]-th sample of a series so that a read could start there.

/// Samples from one key row of a format 2 decimal series to the next.
pub const KEY_INTERVAL: usize = 128;

/// The largest exponent tried: values with more decimals are stored as floats.
pub const MAX_EXPONENT: u8 = 6;

/// Integers of this magnitude or more are not coded (f64 holds every integer below it).
const MAX_SCALED: f64 = 9_007_199_254_740_992.0; // 2^53

/// `10^exponent` as a float; exact for every exponent up to [`MAX_EXPONENT`].
fn power_of_ten(exponent: u8) -> f64 {
    10f64.powi(i32::from(exponent))
}

/// `value × 10^exponent` as an integer when that gives `value` back exactly.
fn scaled(value: f64, exponent: u8) -> Option<i64> {
    let power = power_of_ten(exponent);
    let integer = (value * power).round();
    // NaN fails the bit comparison below; infinities and huge values fail here.
    if integer.abs() >= MAX_SCALED {
        return None;
    }
    (unscaled(integer as i64, power).to_bits() == value.to_bits()).then_some(integer as i64)
}

fn unscaled(integer: i64, power: f64) -> f64 {
    // Most series (counters, integer gauges) are coded at exponent 0: the same value, without
    // a division per sample.
    if power == 1.0 {
        integer as f64
    } else {
        integer as f64 / power
    }
}

/// Codes a series' values as scaled integers into `out` (cleared first) and returns their
/// exponent: the smallest at which every value is an exact decimal. `None` (and `out` left
/// empty) when some value is not one: NaN, infinities, `-0.0`, too many digits or too large.
pub fn encode(values: impl Iterator<Item = f64> + Clone, out: &mut Vec<i64>) -> Option<u8> {
    out.clear();
    // The exponent each value needs only grows, so one pass finds the candidate...
    let mut exponent = 0;
    for value in values.clone() {
        while scaled(value, exponent).is_none() {
            if exponent == MAX_EXPONENT {
                return None;
            }
            exponent += 1;
        }
    }
    // ...but a value exact at a lower exponent may not be at the candidate (its integer
    // grows past 2^53), so coding checks every value again.
    for value in values {
        let Some(integer) = scaled(value, exponent) else {
            out.clear();
            return None;
        };
        out.push(integer);
    }
    Some(exponent)
}

/// Decodes the scaled integers of a decimal series coded at one exponent.
#[derive(Debug, Clone, Copy)]
pub struct ScaledDecoder {
    power: f64,
}

impl ScaledDecoder {
    /// A decoder for a series coded at `exponent`.
    pub fn new(exponent: u8) -> Self {
        Self {
            power: power_of_ten(exponent),
        }
    }

    /// The value a stored integer stands for.
    pub fn value(&self, stored: i64) -> f64 {
        unscaled(stored, self.power)
    }
}

/// Decodes a format 2 decimal series' stored rows in order, from a key row on.
#[derive(Debug, Clone, Copy)]
pub struct DeltaDecoder {
    power: f64,
    /// The row of the series the next stored value belongs to.
    row: usize,
    integer: i64,
}

impl DeltaDecoder {
    /// A decoder for a series coded at `exponent` whose next stored value is its `row`-th
    /// (a multiple of [`KEY_INTERVAL`]).
    pub fn new(exponent: u8, row: usize) -> Self {
        Self {
            power: power_of_ten(exponent),
            row,
            integer: 0,
        }
    }

    /// The value of the next row, from its stored form.
    pub fn next(&mut self, stored: i64) -> f64 {
        self.integer = if self.row.is_multiple_of(KEY_INTERVAL) {
            stored
        } else {
            // Wrapping: a corrupt part yields wrong values, never a panic.
            self.integer.wrapping_add(stored)
        };
        self.row += 1;
        unscaled(self.integer, self.power)
    }
}

/// The first key row at or before `row`.
pub fn key_row_at_or_before(row: usize) -> usize {
    row - row % KEY_INTERVAL
}

/// A series' scaled integers as format 2 stored them: differences, with the integer itself at
/// every key row.
#[cfg(test)]
pub fn deltas_with_key_rows(scaled: &[i64]) -> Vec<i64> {
    scaled
        .iter()
        .enumerate()
        .map(|(row, &integer)| {
            if row.is_multiple_of(KEY_INTERVAL) {
                integer
            } else {
                integer - scaled[row - 1]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[f64]) -> Option<(u8, Vec<f64>)> {
        let mut stored = Vec::new();
        let exponent = encode(values.iter().copied(), &mut stored)?;
        let decoder = ScaledDecoder::new(exponent);
        Some((exponent, stored.iter().map(|s| decoder.value(*s)).collect()))
    }

    #[test]
    fn integers_and_short_decimals_round_trip_bit_for_bit() {
        let counter: Vec<f64> = (0..1_000).map(|i| f64::from(i * i)).collect();
        let (exponent, decoded) = round_trip(&counter).unwrap();
        assert_eq!(exponent, 0);
        assert_eq!(decoded, counter);

        let temperatures = [21.3, 21.25, -3.5, 0.0, 100.125, 1e-6, 4503599627.370496];
        let (exponent, decoded) = round_trip(&temperatures).unwrap();
        assert_eq!(exponent, 6);
        let bits = |values: &[f64]| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&decoded), bits(&temperatures));
    }

    #[test]
    fn values_that_are_not_short_decimals_stay_floats() {
        for odd in [
            0.1 + 0.2,
            f64::NAN,
            f64::INFINITY,
            -0.0,
            1e300,
            9_007_199_254_740_993.0,
            1e-7,
            std::f64::consts::PI,
        ] {
            assert_eq!(round_trip(&[1.0, odd, 2.0]), None, "{odd}");
        }
        assert_eq!(round_trip(&[]), Some((0, Vec::new())));
        // Each exact at some exponent, but 1e10 not at the one 1e-6 needs.
        assert_eq!(round_trip(&[1e10, 1e-6]), None);
    }

    #[test]
    fn format_2_deltas_restart_at_key_rows_so_reads_can_start_there() {
        let values: Vec<f64> = (0..1_000).map(|i| f64::from(i) * 2.5 + 7.0).collect();
        let mut scaled = Vec::new();
        let exponent = encode(values.iter().copied(), &mut scaled).unwrap();
        assert_eq!(scaled[1], 95, "tenths");
        let stored = deltas_with_key_rows(&scaled);
        assert_eq!(stored[1], 25, "a delta in tenths");
        let start = key_row_at_or_before(300);
        assert_eq!(start, 256);
        let mut decoder = DeltaDecoder::new(exponent, start);
        let decoded: Vec<f64> = stored[start..].iter().map(|s| decoder.next(*s)).collect();
        assert_eq!(decoded, values[start..]);
    }

    #[test]
    fn corrupt_deltas_decode_without_panicking() {
        let mut decoder = DeltaDecoder::new(0, 0);
        decoder.next(i64::MAX);
        assert!(decoder.next(i64::MAX).is_finite());
    }
}
