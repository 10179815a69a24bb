//! What the collection types share for the commands that store them: how a [`Value`] holds
//! one, so a single read-modify-write helper serves every collection.

use super::{Hash, Set, Value};

/// A collection type kept in a [`Value`] variant.
pub trait Collection: Sized {
    /// An empty collection, ready to be filled by a write that creates its key.
    fn empty() -> Self;
    /// The value that stores it.
    fn into_value(self) -> Value;
    /// The collection a value holds, if it is of this type.
    fn of(value: &Value) -> Option<&Self>;
    /// [`Collection::of`], mutably.
    fn of_mut(value: &mut Value) -> Option<&mut Self>;
    /// Whether it has no elements (then its key is removed).
    fn is_empty(&self) -> bool;
}

impl Collection for Hash {
    fn empty() -> Self {
        Hash::new()
    }

    fn into_value(self) -> Value {
        Value::Hash(Box::new(self))
    }

    fn of(value: &Value) -> Option<&Self> {
        match value {
            Value::Hash(hash) => Some(hash),
            _ => None,
        }
    }

    fn of_mut(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::Hash(hash) => Some(hash),
            _ => None,
        }
    }

    fn is_empty(&self) -> bool {
        Hash::is_empty(self)
    }
}

impl Collection for Set {
    fn empty() -> Self {
        Set::new()
    }

    fn into_value(self) -> Value {
        Value::Set(Box::new(self))
    }

    fn of(value: &Value) -> Option<&Self> {
        match value {
            Value::Set(set) => Some(set),
            _ => None,
        }
    }

    fn of_mut(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::Set(set) => Some(set),
            _ => None,
        }
    }

    fn is_empty(&self) -> bool {
        Set::is_empty(self)
    }
}
