//! The two stages a table of the descriptor is declared for, once (`model.rs`):
//! - [`Valid`], the public model: each value is its type (`Region`, `LambdaArn`, ...), which
//!   only exists once its rule accepted it;
//! - [`Read`], the document as written: each value is a [`Checked`] (where it is, and its type
//!   or why its rule rejected it), each free text and flag an [`At`] (where it is, and what it
//!   is), so that every value's rule reports and the rules across keys read the valid values by
//!   field and blame them by their span.
//!
//! A table is `Aws<S: Stage = Valid>`, a value with a rule `S::V<Region>`, free text `S::Text`,
//! a flag `S::Flag`: `Aws` alone is the public model.

use std::fmt::Debug;
use std::ops::Range;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_spanned::Spanned;

/// What a value, a free text and a flag are in a stage.
pub trait Stage: Debug + Clone + PartialEq + Eq {
    /// A value whose type has a rule.
    type V<T: Leaf>: DeserializeOwned
        + Serialize
        + JsonSchema
        + Debug
        + Clone
        + PartialEq
        + Eq
        + Ord;
    /// Free text without a rule of its own (`String` in the public model). `Serialize`, so that
    /// the schema shows a default.
    type Text: DeserializeOwned + Serialize + JsonSchema + Debug + Clone + PartialEq + Eq;
    /// `true` or `false`.
    type Flag: DeserializeOwned + Serialize + JsonSchema + Debug + Clone + PartialEq + Eq + Default;

    /// A default text (what a key left out stands for).
    fn text(s: &str) -> Self::Text;
    /// A default flag.
    fn flag(b: bool) -> Self::Flag;
}

/// A value type: parsed from a string by its rule (its `FromStr`, in `value.rs`).
pub trait Leaf:
    DeserializeOwned + Serialize + JsonSchema + FromStr<Err = String> + Debug + Clone + Eq + Ord
{
}
impl<T> Leaf for T where
    T: DeserializeOwned + Serialize + JsonSchema + FromStr<Err = String> + Debug + Clone + Eq + Ord
{
}

/// The public model: every value passed its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Valid;

impl Stage for Valid {
    type V<T: Leaf> = T;
    type Text = String;
    type Flag = bool;

    fn text(s: &str) -> String {
        s.to_owned()
    }

    fn flag(b: bool) -> bool {
        b
    }
}

/// The document as written, each value with its span and its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read;

impl Stage for Read {
    type V<T: Leaf> = Checked<T>;
    type Text = At<String>;
    type Flag = At<bool>;

    fn text(s: &str) -> At<String> {
        At::default_of(s.to_owned())
    }

    fn flag(b: bool) -> At<bool> {
        At::default_of(b)
    }
}

/// A value as read: where it is, the text written there, and its type or why its rule rejects
/// it. Ordered by its text, so that it can be the key of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked<T> {
    pub text: String,
    pub span: Range<usize>,
    pub value: Result<T, String>,
}

impl<T: Eq> Ord for Checked<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&self.text, self.span.start).cmp(&(&other.text, other.span.start))
    }
}

impl<T: Eq> PartialOrd for Checked<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Checked<T> {
    /// The value, when it passed its rule.
    pub fn valid(&self) -> Option<&T> {
        self.value.as_ref().ok()
    }

    /// Marks the value rejected by a rule that needs another key, so that later rules skip it.
    pub fn reject(&mut self, why: String) {
        self.value = Err(why);
    }
}

impl<'de, T: FromStr<Err = String>> Deserialize<'de> for Checked<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Spanned::<String>::deserialize(d)?;
        let span = text.span();
        let text = text.into_inner();
        let value = text.parse::<T>();
        if let Err(why) = &value {
            REJECTED.with_borrow_mut(|r| r.push((span.clone(), why.clone())));
        }
        Ok(Checked { text, span, value })
    }
}

thread_local! {
    /// The values whose own rule failed while [`read_rejecting`] runs, in document order. serde
    /// visits every field and `Checked` cannot be handed a context, so this is how each value's
    /// verdict reaches the report without a list of fields anywhere.
    static REJECTED: std::cell::RefCell<Vec<(Range<usize>, String)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `read` (a deserialization of [`Read`] tables), returning what it returns and the span
/// and reason of every value its rule rejected on the way.
pub(crate) fn read_rejecting<T>(read: impl FnOnce() -> T) -> (T, Vec<(Range<usize>, String)>) {
    REJECTED.with_borrow_mut(Vec::clear);
    let out = read();
    (out, REJECTED.with_borrow_mut(std::mem::take))
}

/// A value without a rule as read: where it is (an empty span at 0 for a default), and what.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct At<T> {
    pub span: Range<usize>,
    pub value: T,
}

impl<T> At<T> {
    fn default_of(value: T) -> Self {
        At { span: 0..0, value }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for At<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Spanned::<T>::deserialize(d)?;
        Ok(At {
            span: value.span(),
            value: value.into_inner(),
        })
    }
}

/// As its text, for the schema's defaults.
impl<T> Serialize for Checked<T> {
    fn serialize<Z: serde::Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        self.text.serialize(s)
    }
}

/// As its value, for the schema's defaults.
impl<T: Serialize> Serialize for At<T> {
    fn serialize<Z: serde::Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        self.value.serialize(s)
    }
}

/// Only the public model's schema is ever generated; a read value's is its type's.
macro_rules! schema_of_inner {
    ($wrapper:ident) => {
        impl<T: JsonSchema> JsonSchema for $wrapper<T> {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> std::borrow::Cow<'static, str> {
                T::schema_name()
            }

            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                T::json_schema(generator)
            }
        }
    };
}
schema_of_inner!(Checked);
schema_of_inner!(At);
