//! Trace and span ids: fixed-size byte newtypes with lowercase hex `Display`/`FromStr`.
//!
//! Serde writes hex text for human-readable formats (JSON) and raw bytes otherwise (the WAL).

use std::fmt;
use std::str::FromStr;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a text or byte form is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdParseError {
    /// The input has the wrong length.
    #[error("id must be {expected} hex characters, got {actual}")]
    Length {
        /// Expected hex characters.
        expected: usize,
        /// Characters received.
        actual: usize,
    },
    /// The input contains a character that is not a hex digit.
    #[error("id contains a character that is not a hex digit")]
    NotHex,
    /// The id is all zeros, which OTLP defines as invalid.
    #[error("id must not be all zeros")]
    Zero,
}

macro_rules! byte_id {
    ($name:ident, $len:expr, $what:literal) => {
        #[doc = concat!("A ", $what, " id: ", stringify!($len), " bytes, never all zeros when valid.")]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length of the id in bytes.
            pub const LEN: usize = $len;

            /// Builds an id from a byte slice, as found in OTLP protobuf.
            ///
            /// # Errors
            /// [`IdParseError::Length`] if the slice has the wrong length, [`IdParseError::Zero`]
            /// if every byte is zero.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, IdParseError> {
                let array: [u8; $len] = bytes.try_into().map_err(|_| IdParseError::Length {
                    expected: $len * 2,
                    actual: bytes.len() * 2,
                })?;
                if array == [0; $len] {
                    return Err(IdParseError::Zero);
                }
                Ok(Self(array))
            }

            /// Returns the id's bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Returns the lowercase hex form.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;

            /// Parses hex text. Shorter input is left-padded with zeros, as Jaeger accepts
            /// 64-bit trace ids written without their high half.
            fn from_str(text: &str) -> Result<Self, IdParseError> {
                if text.len() > $len * 2 || text.is_empty() {
                    return Err(IdParseError::Length {
                        expected: $len * 2,
                        actual: text.len(),
                    });
                }
                let padded = format!("{:0>width$}", text, width = $len * 2);
                let mut array = [0u8; $len];
                hex::decode_to_slice(&padded, &mut array).map_err(|_| IdParseError::NotHex)?;
                if array == [0; $len] {
                    return Err(IdParseError::Zero);
                }
                Ok(Self(array))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                if serializer.is_human_readable() {
                    serializer.serialize_str(&self.to_hex())
                } else {
                    self.0.serialize(serializer)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                if deserializer.is_human_readable() {
                    let text = String::deserialize(deserializer)?;
                    text.parse().map_err(D::Error::custom)
                } else {
                    Ok(Self(<[u8; $len]>::deserialize(deserializer)?))
                }
            }
        }
    };
}

byte_id!(TraceId, 16, "trace");
byte_id!(SpanId, 8, "span");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_padding() {
        let id: TraceId = "5b8efff798038103d269b633813fc60c".parse().unwrap();
        assert_eq!(id.to_string(), "5b8efff798038103d269b633813fc60c");
        let short: TraceId = "d269b633813fc60c".parse().unwrap();
        assert_eq!(short.to_string(), "0000000000000000d269b633813fc60c");
        assert_eq!("00".parse::<SpanId>(), Err(IdParseError::Zero));
        assert_eq!("zz".parse::<SpanId>(), Err(IdParseError::NotHex));
        assert!(SpanId::from_slice(&[1, 2, 3]).is_err());
    }

    #[test]
    fn serde_is_hex_in_json_and_bytes_in_postcard() {
        let id = SpanId([1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"0102030405060708\"");
        let bytes = postcard::to_allocvec(&id).unwrap();
        assert_eq!(bytes.len(), 8);
        assert_eq!(postcard::from_bytes::<SpanId>(&bytes).unwrap(), id);
    }
}
