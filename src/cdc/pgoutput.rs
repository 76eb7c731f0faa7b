//! The messages of Postgres's `pgoutput` logical decoding plugin (protocol version 1, text
//! values), as the SQL interface returns them: one message per row of
//! `pg_logical_slot_peek_binary_changes`. Only what a mirror needs is kept.

/// One decoded message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A transaction starts; its commit record is at `final_lsn`, its commit time in
    /// microseconds since 2000-01-01 UTC.
    Begin {
        final_lsn: u64,
        commit_time: i64,
        xid: u32,
    },
    /// The transaction ends; its commit record ends at `end_lsn`.
    Commit {
        end_lsn: u64,
    },
    /// The shape of a relation, sent before its first change in a decoding session and after
    /// each change to its definition.
    Relation(Relation),
    Insert {
        relation: u32,
        new: Tuple,
    },
    /// `old` holds the replica identity's old values when they changed (or every column
    /// under `REPLICA IDENTITY FULL`).
    Update {
        relation: u32,
        old: Option<Tuple>,
        new: Tuple,
    },
    Delete {
        relation: u32,
        old: Tuple,
    },
    Truncate {
        relations: Vec<u32>,
    },
    /// Anything else (types, origins, logical messages): nothing to apply.
    Other,
}

/// A relation as the publisher sees it now.
#[derive(Debug, Clone, PartialEq)]
pub struct Relation {
    pub id: u32,
    pub schema: String,
    pub name: String,
    pub columns: Vec<RelationColumn>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RelationColumn {
    pub name: String,
    /// Part of the replica identity (the key updates and deletes are matched on).
    pub key: bool,
    pub type_oid: u32,
    pub type_modifier: i32,
}

/// One row image: a value per column of its relation, in the relation's order.
pub type Tuple = Vec<Field>;

#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Null,
    /// A TOASTed value the update did not change: the publisher does not send it.
    Unchanged,
    /// The value in its type's text output.
    Text(Vec<u8>),
}

/// Decode one message.
pub fn decode(data: &[u8]) -> Result<Message, String> {
    let mut r = Reader { data, at: 0 };
    let message = match r.u8()? {
        b'B' => {
            let final_lsn = r.u64()?;
            let commit_time = r.u64()? as i64;
            Message::Begin {
                final_lsn,
                commit_time,
                xid: r.u32()?,
            }
        }
        b'C' => {
            let _flags = r.u8()?;
            let _commit_lsn = r.u64()?;
            Message::Commit { end_lsn: r.u64()? }
        }
        b'R' => {
            let id = r.u32()?;
            let schema = r.string()?;
            let name = r.string()?;
            let _identity = r.u8()?;
            let count = r.u16()?;
            let columns = (0..count)
                .map(|_| {
                    Ok(RelationColumn {
                        key: r.u8()? & 1 == 1,
                        name: r.string()?,
                        type_oid: r.u32()?,
                        type_modifier: r.u32()? as i32,
                    })
                })
                .collect::<Result<_, String>>()?;
            Message::Relation(Relation {
                id,
                schema,
                name,
                columns,
            })
        }
        b'I' => {
            let relation = r.u32()?;
            r.expect(b'N')?;
            Message::Insert {
                relation,
                new: r.tuple()?,
            }
        }
        b'U' => {
            let relation = r.u32()?;
            let old = match r.u8()? {
                b'K' | b'O' => {
                    let old = r.tuple()?;
                    r.expect(b'N')?;
                    Some(old)
                }
                b'N' => None,
                other => return Err(format!("an update with a tuple marked {:?}", other as char)),
            };
            Message::Update {
                relation,
                old,
                new: r.tuple()?,
            }
        }
        b'D' => {
            let relation = r.u32()?;
            match r.u8()? {
                b'K' | b'O' => {}
                other => return Err(format!("a delete with a tuple marked {:?}", other as char)),
            }
            Message::Delete {
                relation,
                old: r.tuple()?,
            }
        }
        b'T' => {
            let count = r.u32()?;
            let _options = r.u8()?;
            Message::Truncate {
                relations: (0..count).map(|_| r.u32()).collect::<Result<_, _>>()?,
            }
        }
        _ => Message::Other,
    };
    Ok(message)
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or("a pgoutput message ends early")?;
        let bytes = &self.data[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_be_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn expect(&mut self, tag: u8) -> Result<(), String> {
        match self.u8()? {
            t if t == tag => Ok(()),
            t => Err(format!("expected {:?}, found {:?}", tag as char, t as char)),
        }
    }

    /// A NUL-terminated string.
    fn string(&mut self) -> Result<String, String> {
        let rest = &self.data[self.at..];
        let len = memchr::memchr(0, rest).ok_or("a pgoutput string without its end")?;
        let text = String::from_utf8_lossy(&rest[..len]).into_owned();
        self.at += len + 1;
        Ok(text)
    }

    fn tuple(&mut self) -> Result<Tuple, String> {
        let count = self.u16()?;
        (0..count)
            .map(|_| {
                Ok(match self.u8()? {
                    b'n' => Field::Null,
                    b'u' => Field::Unchanged,
                    b't' => {
                        let len = self.u32()? as usize;
                        Field::Text(self.take(len)?.to_vec())
                    }
                    other => return Err(format!("a tuple field marked {:?}", other as char)),
                })
            })
            .collect()
    }
}

/// A commit time (microseconds since 2000-01-01 UTC) as a system time.
pub fn commit_time(micros: i64) -> std::time::SystemTime {
    const Y2000: u64 = 946_684_800;
    let base = std::time::UNIX_EPOCH + std::time::Duration::from_secs(Y2000);
    if micros >= 0 {
        base + std::time::Duration::from_micros(micros as u64)
    } else {
        base - std::time::Duration::from_micros(micros.unsigned_abs())
    }
}

/// An LSN as Postgres prints it (`16/B374D848`).
pub fn lsn_text(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xffff_ffff)
}

/// An LSN from its text form.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.split_once('/')?;
    Some((u64::from_str_radix(high, 16).ok()? << 32) | u64::from_str_radix(low, 16).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple_bytes(fields: &[Option<&str>]) -> Vec<u8> {
        let mut out = (fields.len() as u16).to_be_bytes().to_vec();
        for field in fields {
            match field {
                None => out.push(b'n'),
                Some("<unchanged>") => out.push(b'u'),
                Some(text) => {
                    out.push(b't');
                    out.extend((text.len() as u32).to_be_bytes());
                    out.extend(text.as_bytes());
                }
            }
        }
        out
    }

    #[test]
    fn an_update_with_its_old_key_and_an_unchanged_toasted_value() {
        let mut data = vec![b'U'];
        data.extend(16384u32.to_be_bytes());
        data.push(b'K');
        data.extend(tuple_bytes(&[Some("1"), None]));
        data.push(b'N');
        data.extend(tuple_bytes(&[Some("2"), Some("<unchanged>")]));
        assert_eq!(
            decode(&data).unwrap(),
            Message::Update {
                relation: 16384,
                old: Some(vec![Field::Text(b"1".to_vec()), Field::Null]),
                new: vec![Field::Text(b"2".to_vec()), Field::Unchanged],
            }
        );
    }

    #[test]
    fn a_relation_with_its_key_columns() {
        let mut data = vec![b'R'];
        data.extend(7u32.to_be_bytes());
        data.extend(b"hr\0odd \"name\0d");
        data.extend(2u16.to_be_bytes());
        data.push(1);
        data.extend(b"id\0");
        data.extend(23u32.to_be_bytes());
        data.extend((-1i32).to_be_bytes());
        data.push(0);
        data.extend(b"v\0");
        data.extend(25u32.to_be_bytes());
        data.extend((-1i32).to_be_bytes());
        let Message::Relation(relation) = decode(&data).unwrap() else {
            panic!("not a relation")
        };
        assert_eq!(
            (relation.schema.as_str(), relation.name.as_str()),
            ("hr", "odd \"name")
        );
        assert!(relation.columns[0].key && !relation.columns[1].key);
        assert_eq!(relation.columns[1].type_oid, 25);
    }

    #[test]
    fn a_cut_message_is_an_error_not_a_panic() {
        let mut data = vec![b'I'];
        data.extend(1u32.to_be_bytes());
        data.push(b'N');
        data.extend(tuple_bytes(&[Some("hello")]));
        for end in 0..data.len() {
            assert!(decode(&data[..end]).is_err(), "cut at {end}");
        }
        assert!(decode(&data).is_ok());
    }

    #[test]
    fn lsns_print_and_parse_as_postgres_does() {
        assert_eq!(lsn_text(0x16_B374_D848), "16/B374D848");
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("zz"), None);
    }
}
