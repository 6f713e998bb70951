//! DynamoDB numbers (`N` values): parsing, exact comparison, size and integer addition.
//!
//! DynamoDB sends numbers as strings with up to 38 significant digits and compares them as
//! exact decimals (`"1.50" == "1.5"`). Both adapters need the same rules, so they live here.

use std::cmp::Ordering;

/// Maximum number of significant digits DynamoDB keeps.
pub const MAX_SIGNIFICANT_DIGITS: usize = 38;
/// Largest order of magnitude DynamoDB accepts (values up to 9.99…E+125).
const MAX_MAGNITUDE: i64 = 125;
/// Smallest order of magnitude DynamoDB accepts for non-zero values (1E-130 and above).
const MIN_MAGNITUDE: i64 = -130;

/// Why a number string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// The string is not a decimal number.
    #[error("`{0}` is not a decimal number")]
    Syntax(String),
    /// More significant digits than DynamoDB keeps.
    #[error("`{0}` has more than 38 significant digits")]
    TooPrecise(String),
    /// The magnitude is outside DynamoDB's range.
    #[error("`{0}` is outside the range 1E-130 to 9.9E+125")]
    OutOfRange(String),
}

/// An exact decimal: `0.d1d2d3… × 10^exponent`, with no leading or trailing zero digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal {
    negative: bool,
    /// Significant digits (0–9 each); empty for zero.
    digits: Vec<u8>,
    exponent: i64,
}

impl Decimal {
    /// Parses a DynamoDB number string (`-12.5`, `1e3`, `0.000`), enforcing DynamoDB's limits.
    pub fn parse(text: &str) -> Result<Self, NumberError> {
        let syntax = || NumberError::Syntax(text.to_owned());
        let trimmed = text.trim();
        let (negative, rest) = match trimmed.as_bytes().first() {
            Some(b'-') => (true, &trimmed[1..]),
            Some(b'+') => (false, &trimmed[1..]),
            _ => (false, trimmed),
        };
        let (mantissa, exponent_text) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        let explicit_exponent: i64 = match exponent_text {
            Some(e) if !e.is_empty() => e.parse().map_err(|_| syntax())?,
            Some(_) => return Err(syntax()),
            None => 0,
        };
        let (integer, fraction) = match mantissa.split_once('.') {
            Some((i, f)) => (i, f),
            None => (mantissa, ""),
        };
        if integer.is_empty() && fraction.is_empty() {
            return Err(syntax());
        }
        if !integer
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
        {
            return Err(syntax());
        }
        let all: Vec<u8> = integer
            .bytes()
            .chain(fraction.bytes())
            .map(|b| b - b'0')
            .collect();
        let leading_zeros = all.iter().take_while(|d| **d == 0).count();
        let Some(last_nonzero) = all.iter().rposition(|d| *d != 0) else {
            return Ok(Self::zero());
        };
        let digits = all[leading_zeros..=last_nonzero].to_vec();
        // The first significant digit sits at position `leading_zeros` of `integer ++ fraction`;
        // the decimal point sits after `integer.len()` digits.
        let integer_len = i64::try_from(integer.len()).map_err(|_| syntax())?;
        let leading = i64::try_from(leading_zeros).map_err(|_| syntax())?;
        let exponent = integer_len
            .checked_sub(leading)
            .and_then(|e| e.checked_add(explicit_exponent))
            .ok_or_else(syntax)?;
        if digits.len() > MAX_SIGNIFICANT_DIGITS {
            return Err(NumberError::TooPrecise(text.to_owned()));
        }
        // value = 0.d… × 10^exponent, so its order of magnitude is exponent - 1.
        let magnitude = exponent - 1;
        if !(MIN_MAGNITUDE..=MAX_MAGNITUDE).contains(&magnitude) {
            return Err(NumberError::OutOfRange(text.to_owned()));
        }
        Ok(Self {
            negative,
            digits,
            exponent,
        })
    }

    fn zero() -> Self {
        Self {
            negative: false,
            digits: Vec::new(),
            exponent: 0,
        }
    }

    /// The decimal value of an integer.
    pub fn from_i128(value: i128) -> Self {
        let text = value.to_string();
        // An integer's decimal string always parses and is within range.
        Self::parse(&text).unwrap_or_else(|_| Self::zero())
    }

    /// Number of significant digits (0 for zero).
    pub fn significant_digits(&self) -> usize {
        self.digits.len()
    }

    /// The value as an integer, when it is one and fits.
    pub fn to_i128(&self) -> Option<i128> {
        let len = i64::try_from(self.digits.len()).ok()?;
        let zeros = self.exponent.checked_sub(len)?;
        if zeros < 0 {
            return None; // has a fractional part
        }
        let mut value: i128 = 0;
        for digit in &self.digits {
            value = value.checked_mul(10)?.checked_add(i128::from(*digit))?;
        }
        for _ in 0..zeros {
            value = value.checked_mul(10)?;
        }
        Some(if self.negative { -value } else { value })
    }

    /// Adds an integer exactly; `None` when the result would not be a valid DynamoDB number.
    pub fn checked_add_integer(&self, delta: i64) -> Option<Self> {
        // Work in fixed point: value = mantissa × 10^-scale.
        let len = i64::try_from(self.digits.len()).ok()?;
        let scale = (len - self.exponent).max(0);
        let mut mantissa: i128 = 0;
        for digit in &self.digits {
            mantissa = mantissa.checked_mul(10)?.checked_add(i128::from(*digit))?;
        }
        for _ in 0..(self.exponent - len).max(0) {
            mantissa = mantissa.checked_mul(10)?;
        }
        if self.negative {
            mantissa = -mantissa;
        }
        let mut shifted_delta = i128::from(delta);
        for _ in 0..scale {
            shifted_delta = shifted_delta.checked_mul(10)?;
        }
        let sum = mantissa.checked_add(shifted_delta)?;
        let text = format!("{sum}e-{scale}");
        Self::parse(&text).ok()
    }

    /// The canonical text DynamoDB returns: no exponent, no superfluous zeros.
    pub fn to_canonical_string(&self) -> String {
        if self.digits.is_empty() {
            return "0".to_owned();
        }
        let digits: String = self.digits.iter().map(|d| char::from(b'0' + d)).collect();
        let len = i64::try_from(self.digits.len()).unwrap_or(i64::MAX);
        let body = if self.exponent <= 0 {
            let zeros = usize::try_from(-self.exponent).unwrap_or(0);
            format!("0.{}{digits}", "0".repeat(zeros))
        } else if self.exponent >= len {
            let zeros = usize::try_from(self.exponent - len).unwrap_or(0);
            format!("{digits}{}", "0".repeat(zeros))
        } else {
            let split = usize::try_from(self.exponent).unwrap_or(0);
            format!("{}.{}", &digits[..split], &digits[split..])
        };
        if self.negative {
            format!("-{body}")
        } else {
            body
        }
    }

    fn cmp_magnitude(&self, other: &Self) -> Ordering {
        match (self.digits.is_empty(), other.digits.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        self.exponent
            .cmp(&other.exponent)
            .then_with(|| self.digits.cmp(&other.digits))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let self_negative = self.negative && !self.digits.is_empty();
        let other_negative = other.negative && !other.digits.is_empty();
        match (self_negative, other_negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// DynamoDB's size of a number value: one byte per two significant digits, plus one.
pub fn number_size(text: &str) -> usize {
    let digits = match Decimal::parse(text) {
        Ok(decimal) => decimal.significant_digits(),
        // Invalid numbers are rejected elsewhere; estimate from the text so size stays total.
        Err(_) => text.bytes().filter(u8::is_ascii_digit).count(),
    };
    digits.div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    #[test]
    fn equal_values_with_different_spellings_compare_equal() {
        assert_eq!(d("1.50"), d("1.5"));
        assert_eq!(d("001"), d("1"));
        assert_eq!(d("1e3"), d("1000"));
        assert_eq!(d("-0"), d("0.000"));
        assert_eq!(d("12.5E-1"), d("1.25"));
        assert_eq!(d("+7"), d("7"));
    }

    #[test]
    fn ordering_is_numeric_not_textual() {
        assert!(d("9") < d("10"));
        assert!(d("-10") < d("-9"));
        assert!(d("-1") < d("0"));
        assert!(d("0") < d("0.001"));
        assert!(d("1.25") < d("1.3"));
        assert!(d("1700000000") > d("999999999"));
    }

    #[test]
    fn rejects_what_dynamodb_rejects() {
        for bad in ["", "-", ".", "abc", "1.2.3", "1e", "1x", "--1", "0x10"] {
            assert!(
                matches!(Decimal::parse(bad), Err(NumberError::Syntax(_))),
                "{bad}"
            );
        }
        let too_precise = "1".repeat(39);
        assert!(matches!(
            Decimal::parse(&too_precise),
            Err(NumberError::TooPrecise(_))
        ));
        assert!(matches!(
            Decimal::parse("1e126"),
            Err(NumberError::OutOfRange(_))
        ));
        assert!(Decimal::parse("9.9e125").is_ok());
        assert!(Decimal::parse("1e-130").is_ok());
        assert!(matches!(
            Decimal::parse("1e-131"),
            Err(NumberError::OutOfRange(_))
        ));
    }

    #[test]
    fn integer_conversion_and_addition() {
        assert_eq!(d("1e3").to_i128(), Some(1000));
        assert_eq!(d("-42").to_i128(), Some(-42));
        assert_eq!(d("1.5").to_i128(), None);
        assert_eq!(d("41").checked_add_integer(1), Some(d("42")));
        assert_eq!(d("1.5").checked_add_integer(1), Some(d("2.5")));
        assert_eq!(d("-3").checked_add_integer(5), Some(d("2")));
        assert_eq!(d("0").checked_add_integer(-7), Some(d("-7")));
        assert_eq!(d("1e100").checked_add_integer(1), None);
    }

    #[test]
    fn canonical_strings_match_dynamodb_output() {
        assert_eq!(d("001.500").to_canonical_string(), "1.5");
        assert_eq!(d("1e3").to_canonical_string(), "1000");
        assert_eq!(d("-0.05").to_canonical_string(), "-0.05");
        assert_eq!(d("0").to_canonical_string(), "0");
        assert_eq!(d("123.456").to_canonical_string(), "123.456");
    }

    #[test]
    fn size_counts_significant_digits() {
        assert_eq!(number_size("0"), 1);
        assert_eq!(number_size("7"), 2);
        assert_eq!(number_size("12"), 2);
        assert_eq!(number_size("123"), 3);
        assert_eq!(number_size("1000"), 2);
        assert_eq!(number_size("1700000000"), 2);
        assert_eq!(number_size("1700000001"), 6);
    }
}
