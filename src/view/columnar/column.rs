//! Columns: one Arrow array builder each, filled from a record by a plain function.
//!
//! A record type's schema is a list of these ([`super::schema`]), so that a new field is
//! one line there. Each column reads its value through a `fn` pointer (no captured
//! state, so a table is `Send` and the schema stays a table of names and getters);
//! nested objects are `Struct` columns over a part of the record, lists are `List`
//! columns over a slice of it. A getter that has to show a value as text (an endpoint, a
//! problem's sentence) writes it into a scratch string the column keeps, so that no
//! string is allocated per row.

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, NullBufferBuilder, PrimitiveBuilder, StringBuilder,
    StringDictionaryBuilder,
};
use arrow_array::types::{ArrowPrimitiveType, Int32Type, UInt64Type};
use arrow_array::{ArrayRef, ListArray, MapArray, StructArray};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Field, Fields};
use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

/// One column of a record type `R`.
pub trait Column<R: ?Sized>: Send {
    /// The column's name and type.
    fn field(&self) -> Field;
    /// Appends the value of `r`, or a null when the row has no `R` (its parent object is
    /// absent). Returns about how many bytes the value takes; fails for a value larger
    /// than [`MAX_VALUE`].
    fn push(&mut self, r: Option<&R>) -> io::Result<usize>;
    /// The values appended since the last call, as an array (the builder is emptied).
    fn finish(&mut self) -> ArrayRef;
}

/// The largest text or binary value a column takes: Arrow's `BINARY` and `UTF8` arrays,
/// and Parquet pages, count in 32-bit offsets. Only a `--max-message-size` raised past
/// it lets a payload grow that large.
pub const MAX_VALUE: usize = 1 << 30;

/// The error of a value over [`MAX_VALUE`].
fn too_large(name: &str, len: usize) -> io::Error {
    io::Error::other(format!(
        "a {name} of {len} bytes is more than Parquet and Arrow columns hold ({MAX_VALUE} bytes): lower --max-message-size"
    ))
}

/// A boxed column of `R`, what schemas are made of.
pub type Col<R> = Box<dyn Column<R>>;

/// Reads a text value, borrowed from the record or written into the scratch string.
pub type TextFn<R> = for<'a> fn(&'a R, &'a mut String) -> Option<&'a str>;

/// A number (or time) column.
struct Prim<R, T: ArrowPrimitiveType> {
    name: &'static str,
    nullable: bool,
    data_type: DataType,
    get: fn(&R) -> Option<T::Native>,
    b: PrimitiveBuilder<T>,
}

impl<R, T: ArrowPrimitiveType> Column<R> for Prim<R, T> {
    fn field(&self) -> Field {
        Field::new(self.name, self.data_type.clone(), self.nullable)
    }

    fn push(&mut self, r: Option<&R>) -> io::Result<usize> {
        self.b.append_option(r.and_then(self.get));
        Ok(std::mem::size_of::<T::Native>())
    }

    fn finish(&mut self) -> ArrayRef {
        Arc::new(self.b.finish())
    }
}

/// A column of numbers of Arrow type `T`; `nullable` says whether `get` may answer `None`.
pub fn prim<R: 'static, T: ArrowPrimitiveType>(
    name: &'static str,
    nullable: bool,
    get: fn(&R) -> Option<T::Native>,
) -> Col<R> {
    Box::new(Prim::<R, T> {
        name,
        nullable,
        data_type: T::DATA_TYPE,
        get,
        b: PrimitiveBuilder::new(),
    })
}

/// A `TIMESTAMP(ns, UTC)` column; `get` answers nanoseconds since the epoch, `None` for a
/// time out of the 64-bit range (years 1677–2262: only a corrupt capture clock).
pub fn time<R: 'static>(name: &'static str, get: fn(&R) -> Option<i64>) -> Col<R> {
    use arrow_array::types::TimestampNanosecondType;
    let b = PrimitiveBuilder::<TimestampNanosecondType>::new().with_timezone("UTC");
    Box::new(Prim::<R, TimestampNanosecondType> {
        name,
        nullable: true,
        data_type: DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, Some("UTC".into())),
        get,
        b,
    })
}

/// A boolean column.
struct Bool<R> {
    name: &'static str,
    nullable: bool,
    get: fn(&R) -> Option<bool>,
    b: BooleanBuilder,
}

impl<R> Column<R> for Bool<R> {
    fn field(&self) -> Field {
        Field::new(self.name, DataType::Boolean, self.nullable)
    }

    fn push(&mut self, r: Option<&R>) -> io::Result<usize> {
        self.b.append_option(r.and_then(self.get));
        Ok(1)
    }

    fn finish(&mut self) -> ArrayRef {
        Arc::new(self.b.finish())
    }
}

/// A boolean column; `nullable` says whether `get` may answer `None`.
pub fn boolean<R: 'static>(
    name: &'static str,
    nullable: bool,
    get: fn(&R) -> Option<bool>,
) -> Col<R> {
    Box::new(Bool {
        name,
        nullable,
        get,
        b: BooleanBuilder::new(),
    })
}

/// A UTF-8 column, plain or dictionary-encoded.
struct Text<R> {
    name: &'static str,
    nullable: bool,
    get: TextFn<R>,
    scratch: String,
    b: TextBuilder,
}

enum TextBuilder {
    Plain(StringBuilder),
    Dict(StringDictionaryBuilder<Int32Type>),
}

impl<R> Column<R> for Text<R> {
    fn field(&self) -> Field {
        let t = match self.b {
            TextBuilder::Plain(_) => DataType::Utf8,
            TextBuilder::Dict(_) => {
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
            }
        };
        Field::new(self.name, t, self.nullable)
    }

    fn push(&mut self, r: Option<&R>) -> io::Result<usize> {
        self.scratch.clear();
        let v = r.and_then(|r| (self.get)(r, &mut self.scratch));
        let n = v.map_or(0, str::len);
        if n > MAX_VALUE {
            return Err(too_large(self.name, n));
        }
        match &mut self.b {
            TextBuilder::Plain(b) => b.append_option(v),
            TextBuilder::Dict(b) => match v {
                // A batch holds far fewer than 2^31 distinct values.
                Some(v) => {
                    let _ = b.append(v);
                }
                None => b.append_null(),
            },
        }
        Ok(n + 4)
    }

    fn finish(&mut self) -> ArrayRef {
        match &mut self.b {
            TextBuilder::Plain(b) => Arc::new(b.finish()),
            TextBuilder::Dict(b) => Arc::new(b.finish()),
        }
    }
}

/// A UTF-8 column.
pub fn text<R: 'static>(name: &'static str, nullable: bool, get: TextFn<R>) -> Col<R> {
    Box::new(Text {
        name,
        nullable,
        get,
        scratch: String::new(),
        b: TextBuilder::Plain(StringBuilder::new()),
    })
}

/// A dictionary-encoded UTF-8 column (`DICTIONARY<INT32, UTF8>`), for values that repeat
/// (file names, directions, opcodes, states, endpoints).
pub fn dict<R: 'static>(name: &'static str, nullable: bool, get: TextFn<R>) -> Col<R> {
    Box::new(Text {
        name,
        nullable,
        get,
        scratch: String::new(),
        b: TextBuilder::Dict(StringDictionaryBuilder::new()),
    })
}

/// A binary column.
struct Bin<R> {
    name: &'static str,
    get: for<'a> fn(&'a R) -> Option<&'a [u8]>,
    b: BinaryBuilder,
}

impl<R> Column<R> for Bin<R> {
    fn field(&self) -> Field {
        Field::new(self.name, DataType::Binary, true)
    }

    fn push(&mut self, r: Option<&R>) -> io::Result<usize> {
        let v = r.and_then(self.get);
        let n = v.map_or(0, <[u8]>::len);
        if n > MAX_VALUE {
            return Err(too_large(self.name, n));
        }
        self.b.append_option(v);
        Ok(n + 4)
    }

    fn finish(&mut self) -> ArrayRef {
        Arc::new(self.b.finish())
    }
}

/// A nullable `BINARY` column (raw bytes).
pub fn binary<R: 'static>(
    name: &'static str,
    get: for<'a> fn(&'a R) -> Option<&'a [u8]>,
) -> Col<R> {
    Box::new(Bin {
        name,
        get,
        b: BinaryBuilder::new(),
    })
}

/// A `STRUCT` column: an object of the record, `S`, with columns of its own.
struct Struct<R, S> {
    name: &'static str,
    nullable: bool,
    get: for<'a> fn(&'a R) -> Option<&'a S>,
    children: Vec<Col<S>>,
    nulls: NullBufferBuilder,
}

impl<R: 'static, S: 'static> Column<R> for Struct<R, S> {
    fn field(&self) -> Field {
        let fields: Fields = self.children.iter().map(|c| c.field()).collect();
        Field::new(self.name, DataType::Struct(fields), self.nullable)
    }

    fn push(&mut self, r: Option<&R>) -> io::Result<usize> {
        let s = r.and_then(self.get);
        self.nulls.append(s.is_some());
        self.children.iter_mut().map(|c| c.push(s)).sum()
    }

    fn finish(&mut self) -> ArrayRef {
        let fields: Fields = self.children.iter().map(|c| c.field()).collect();
        let arrays = self.children.iter_mut().map(|c| c.finish()).collect();
        // The children were filled row by row with the parent: the lengths and types
        // agree by construction.
        Arc::new(StructArray::new(fields, arrays, self.nulls.finish()))
    }
}

/// A `STRUCT` column of the object `get` finds in the record (null when it answers
/// `None`), with `children` as its fields.
pub fn object<R: 'static, S: 'static>(
    name: &'static str,
    nullable: bool,
    get: for<'a> fn(&'a R) -> Option<&'a S>,
    children: Vec<Col<S>>,
) -> Col<R> {
    Box::new(Struct {
        name,
        nullable,
        get,
        children,
        nulls: NullBufferBuilder::new(0),
    })
}

/// A `LIST` column: a slice of the record, `S`, each item one row of `item`.
struct List<R, S> {
    name: &'static str,
    nullable: bool,
    get: for<'a> fn(&'a R) -> Option<&'a [S]>,
    item: Col<S>,
    offsets: Vec<i32>,
    nulls: NullBufferBuilder,
}

impl<R: 'static, S: 'static> List<R, S> {
    fn item_field(&self) -> Arc<Field> {
        Arc::new(self.item.field().with_name("item"))
    }
}

impl<R: 'static, S: 'static> Column<R> for List<R, S> {
    fn field(&self) -> Field {
        Field::new(self.name, DataType::List(self.item_field()), self.nullable)
    }

    fn push(&mut self, r: Option<&R>) -> io::Result<usize> {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let items = r.and_then(self.get);
        self.nulls.append(items.is_some());
        let items = items.unwrap_or_default();
        let bytes: usize = items
            .iter()
            .map(|s| self.item.push(Some(s)))
            .sum::<io::Result<usize>>()?;
        let last = self.offsets.last().copied().unwrap_or(0);
        // A batch is cut long before 2^31 items.
        self.offsets
            .push(last.saturating_add(i32::try_from(items.len()).unwrap_or(i32::MAX)));
        Ok(bytes + 4)
    }

    fn finish(&mut self) -> ArrayRef {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let offsets = OffsetBuffer::new(std::mem::take(&mut self.offsets).into());
        let values = self.item.finish();
        Arc::new(ListArray::new(
            self.item_field(),
            offsets,
            values,
            self.nulls.finish(),
        ))
    }
}

/// A `LIST` column of the slice `get` finds in the record (null when it answers `None`),
/// each element a value of `item` (whose name is replaced by `item`).
pub fn list<R: 'static, S: 'static>(
    name: &'static str,
    nullable: bool,
    get: for<'a> fn(&'a R) -> Option<&'a [S]>,
    item: Col<S>,
) -> Col<R> {
    Box::new(List {
        name,
        nullable,
        get,
        item,
        offsets: Vec::new(),
        nulls: NullBufferBuilder::new(0),
    })
}

/// A `MAP<UTF8, UINT64>` column: counts by name.
struct Counts<R> {
    name: &'static str,
    get: for<'a> fn(&'a R) -> Option<&'a BTreeMap<String, u64>>,
    keys: StringBuilder,
    values: PrimitiveBuilder<UInt64Type>,
    offsets: Vec<i32>,
    nulls: NullBufferBuilder,
}

impl<R> Counts<R> {
    fn entries() -> Arc<Field> {
        let kv = Fields::from(vec![
            Field::new("keys", DataType::Utf8, false),
            Field::new("values", DataType::UInt64, false),
        ]);
        Arc::new(Field::new("entries", DataType::Struct(kv), false))
    }
}

impl<R> Column<R> for Counts<R> {
    fn field(&self) -> Field {
        Field::new(self.name, DataType::Map(Self::entries(), false), true)
    }

    fn push(&mut self, r: Option<&R>) -> io::Result<usize> {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let m = r.and_then(self.get);
        self.nulls.append(m.is_some());
        let mut bytes = 4;
        for (k, v) in m.into_iter().flatten() {
            self.keys.append_value(k);
            self.values.append_value(*v);
            bytes += k.len() + 12;
        }
        let n = m.map_or(0, BTreeMap::len);
        let last = self.offsets.last().copied().unwrap_or(0);
        self.offsets
            .push(last.saturating_add(i32::try_from(n).unwrap_or(i32::MAX)));
        Ok(bytes)
    }

    fn finish(&mut self) -> ArrayRef {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let DataType::Struct(kv) = Self::entries().data_type().clone() else {
            unreachable!("entries are a struct")
        };
        let entries = StructArray::new(
            kv,
            vec![Arc::new(self.keys.finish()), Arc::new(self.values.finish())],
            None,
        );
        let offsets = OffsetBuffer::new(std::mem::take(&mut self.offsets).into());
        Arc::new(MapArray::new(
            Self::entries(),
            offsets,
            entries,
            self.nulls.finish(),
            false,
        ))
    }
}

/// A nullable `MAP<UTF8, UINT64>` column of the counts `get` finds in the record.
pub fn counts<R: 'static>(
    name: &'static str,
    get: for<'a> fn(&'a R) -> Option<&'a BTreeMap<String, u64>>,
) -> Col<R> {
    Box::new(Counts {
        name,
        get,
        keys: StringBuilder::new(),
        values: PrimitiveBuilder::new(),
        offsets: Vec::new(),
        nulls: NullBufferBuilder::new(0),
    })
}
