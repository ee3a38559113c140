//! Protocol-buffer wire format: just enough to walk ONNX messages and to
//! rewrite one field while copying every other byte verbatim.
//!
//! gdmilp never decodes a whole `ModelProto` into structs and re-encodes it:
//! fields it does not touch (newer exporters' fields, metadata, doc strings)
//! are copied byte for byte, so a model patched with its own weights is
//! byte-identical to the input. This module knows nothing about ONNX.

use std::ops::Range;

/// The value of one field, borrowed from the message bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1 (little-endian 8 bytes).
    Fixed64(u64),
    /// Wire type 2: strings, bytes, sub-messages, packed repeated fields.
    Bytes(&'a [u8]),
    /// Wire type 5 (little-endian 4 bytes).
    Fixed32(u32),
}

/// One field of a message and where it sits.
#[derive(Debug, Clone)]
pub struct Field<'a> {
    /// Field number.
    pub number: u32,
    /// Decoded value.
    pub value: Value<'a>,
    /// Byte range of the whole field (tag, length, payload) in the message.
    pub span: Range<usize>,
}

impl<'a> Field<'a> {
    /// The payload of a length-delimited field.
    pub fn bytes(&self) -> Result<&'a [u8], String> {
        match self.value {
            Value::Bytes(b) => Ok(b),
            _ => Err(format!("field {} is not length-delimited", self.number)),
        }
    }

    /// A varint field as i64 (two's complement, as protobuf's int64).
    pub fn int(&self) -> Result<i64, String> {
        match self.value {
            Value::Varint(v) => Ok(v as i64),
            _ => Err(format!("field {} is not a varint", self.number)),
        }
    }

    /// A UTF-8 string field.
    pub fn string(&self) -> Result<String, String> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| format!("field {} is not UTF-8", self.number))
    }

    /// A `float` field (wire type 5).
    pub fn float(&self) -> Result<f32, String> {
        match self.value {
            Value::Fixed32(v) => Ok(f32::from_bits(v)),
            _ => Err(format!("field {} is not a float", self.number)),
        }
    }
}

/// Iterates the fields of one message; stops at the first malformed byte.
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

/// The fields of `buf`, a serialized message.
pub fn fields(buf: &[u8]) -> Fields<'_> {
    Fields {
        buf,
        pos: 0,
        failed: false,
    }
}

fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let Some(&byte) = buf.get(*pos) else {
            return Err("message ends inside a varint (truncated file?)".into());
        };
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("varint longer than 10 bytes".into())
}

impl<'a> Fields<'a> {
    fn next_field(&mut self) -> Result<Field<'a>, String> {
        let start = self.pos;
        let key = read_varint(self.buf, &mut self.pos)?;
        let number = u32::try_from(key >> 3).map_err(|_| "field number out of range")?;
        if number == 0 {
            return Err(format!("field number 0 at byte {start}"));
        }
        let need = |pos: usize, n: usize| -> Result<Range<usize>, String> {
            let end = pos
                .checked_add(n)
                .filter(|&e| e <= self.buf.len())
                .ok_or_else(|| {
                    format!(
                        "field {number} at byte {start} runs past the end of its message (truncated file?)"
                    )
                })?;
            Ok(pos..end)
        };
        let value = match key & 7 {
            0 => Value::Varint(read_varint(self.buf, &mut self.pos)?),
            1 => {
                let r = need(self.pos, 8)?;
                self.pos = r.end;
                Value::Fixed64(u64::from_le_bytes(self.buf[r].try_into().unwrap()))
            }
            2 => {
                let len = read_varint(self.buf, &mut self.pos)?;
                let len = usize::try_from(len).map_err(|_| "length out of range")?;
                let r = need(self.pos, len)?;
                self.pos = r.end;
                Value::Bytes(&self.buf[r])
            }
            5 => {
                let r = need(self.pos, 4)?;
                self.pos = r.end;
                Value::Fixed32(u32::from_le_bytes(self.buf[r].try_into().unwrap()))
            }
            t => return Err(format!("unsupported wire type {t} at byte {start}")),
        };
        Ok(Field {
            number,
            value,
            span: start..self.pos,
        })
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let r = self.next_field();
        self.failed = r.is_err();
        Some(r)
    }
}

/// Appends `v` as a varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a length-delimited field.
pub fn put_bytes(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    put_varint(out, (u64::from(number) << 3) | 2);
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// Appends a varint field.
pub fn put_int(out: &mut Vec<u8>, number: u32, v: i64) {
    put_varint(out, u64::from(number) << 3);
    put_varint(out, v as u64);
}

/// What [`rewrite`] does with one field.
pub enum Edit {
    /// Copy the field's bytes unchanged.
    Keep,
    /// Leave the field out.
    Drop,
    /// Put these bytes (one or more whole encoded fields) in its place.
    Replace(Vec<u8>),
}

/// Rebuilds a message field by field: `edit` decides for each field, and
/// `append` bytes go at the end. Untouched fields are copied verbatim.
pub fn rewrite(
    msg: &[u8],
    mut edit: impl FnMut(&Field<'_>) -> Result<Edit, String>,
    append: &[u8],
) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(msg.len() + append.len());
    for f in fields(msg) {
        let f = f?;
        match edit(&f)? {
            Edit::Keep => out.extend_from_slice(&msg[f.span.clone()]),
            Edit::Drop => {}
            Edit::Replace(bytes) => out.extend_from_slice(&bytes),
        }
    }
    out.extend_from_slice(append);
    Ok(out)
}

/// Decodes a packed (or single unpacked) run of varints.
pub fn packed_varints(field: &Field<'_>, out: &mut Vec<i64>) -> Result<(), String> {
    match field.value {
        Value::Varint(v) => out.push(v as i64),
        Value::Bytes(b) => {
            let mut pos = 0;
            while pos < b.len() {
                out.push(read_varint(b, &mut pos)? as i64);
            }
        }
        _ => return Err(format!("field {} is not a repeated varint", field.number)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut pos = 0;
            assert_eq!(read_varint(&b, &mut pos).unwrap(), v);
            assert_eq!(pos, b.len());
        }
    }

    #[test]
    fn rewrite_keeps_untouched_bytes_and_replaces_one_field() {
        let mut msg = Vec::new();
        put_bytes(&mut msg, 1, b"abc");
        put_int(&mut msg, 2, 7);
        put_bytes(&mut msg, 3, b"zz");
        let same = rewrite(&msg, |_| Ok(Edit::Keep), &[]).unwrap();
        assert_eq!(same, msg);
        let out = rewrite(
            &msg,
            |f| {
                Ok(if f.number == 2 {
                    let mut r = Vec::new();
                    put_int(&mut r, 2, 9);
                    Edit::Replace(r)
                } else {
                    Edit::Keep
                })
            },
            &[],
        )
        .unwrap();
        let got: Vec<_> = fields(&out).map(|f| f.unwrap().value).collect();
        assert_eq!(
            got,
            vec![Value::Bytes(b"abc"), Value::Varint(9), Value::Bytes(b"zz")]
        );
    }

    #[test]
    fn truncated_message_is_an_error_not_a_panic() {
        let mut msg = Vec::new();
        put_bytes(&mut msg, 1, b"abcdef");
        for cut in 0..msg.len() {
            let r: Result<Vec<_>, _> = fields(&msg[..cut]).collect();
            if cut > 0 {
                assert!(r.is_err(), "cut at {cut}");
            }
        }
    }
}
