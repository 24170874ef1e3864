//! Reading peer configs: JSON access that names the full path of any bad field.

use serde_json::{Map, Value};

use crate::CompatError;

/// A JSON object together with its path in the case file, so that every error names
/// the field exactly (`config.args.T_max`).
#[derive(Debug, Clone)]
pub(crate) struct Fields<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

/// An owned path segment builder, so nested objects keep their full path.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl<'a> Fields<'a> {
    /// Views `value` (found at `path`) as an object.
    pub fn new(path: impl Into<String>, value: &'a Value) -> Result<Self, CompatError> {
        let path = path.into();
        match value {
            Value::Object(map) => Ok(Fields { path, map }),
            other => Err(CompatError::invalid(&path, other, "must be an object")),
        }
    }

    /// The path of `key` inside this object.
    pub fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The raw value of `key`, if present and not `null`.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Whether `key` is present and not `null`.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The raw value of a required `key`.
    pub fn required(&self, key: &str) -> Result<&'a Value, CompatError> {
        self.get(key).ok_or_else(|| CompatError::Missing {
            field: self.path_of(key),
        })
    }

    /// A required number.
    pub fn f64(&self, key: &str) -> Result<f64, CompatError> {
        let v = self.required(key)?;
        as_f64(v).ok_or_else(|| CompatError::invalid(&self.path_of(key), v, "must be a number"))
    }

    /// An optional number with its default.
    pub fn f64_or(&self, key: &str, default: f64) -> Result<f64, CompatError> {
        if self.has(key) {
            self.f64(key)
        } else {
            Ok(default)
        }
    }

    /// An optional number.
    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>, CompatError> {
        if self.has(key) {
            self.f64(key).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A required non-negative integer (a JSON integer, or a float with no fraction).
    pub fn u64(&self, key: &str) -> Result<u64, CompatError> {
        let v = self.required(key)?;
        as_u64(v).ok_or_else(|| {
            CompatError::invalid(&self.path_of(key), v, "must be a non-negative integer")
        })
    }

    /// An optional non-negative integer with its default.
    pub fn u64_or(&self, key: &str, default: u64) -> Result<u64, CompatError> {
        if self.has(key) {
            self.u64(key)
        } else {
            Ok(default)
        }
    }

    /// An optional signed integer with its default.
    pub fn i64_or(&self, key: &str, default: i64) -> Result<i64, CompatError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_f64().filter(|x| x.fract() == 0.0).map(|x| x as i64))
                .ok_or_else(|| CompatError::invalid(&self.path_of(key), v, "must be an integer")),
        }
    }

    /// A required string.
    pub fn str(&self, key: &str) -> Result<&'a str, CompatError> {
        let v = self.required(key)?;
        v.as_str()
            .ok_or_else(|| CompatError::invalid(&self.path_of(key), v, "must be a string"))
    }

    /// An optional string with its default.
    pub fn str_or(&self, key: &str, default: &'a str) -> Result<&'a str, CompatError> {
        if self.has(key) {
            self.str(key)
        } else {
            Ok(default)
        }
    }

    /// An optional boolean with its default.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, CompatError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| CompatError::invalid(&self.path_of(key), v, "must be true or false")),
        }
    }

    /// A required list of numbers.
    pub fn f64_list(&self, key: &str) -> Result<Vec<f64>, CompatError> {
        let v = self.required(key)?;
        let list = v
            .as_array()
            .ok_or_else(|| CompatError::invalid(&self.path_of(key), v, "must be a list of numbers"))?;
        list.iter()
            .enumerate()
            .map(|(i, x)| {
                as_f64(x).ok_or_else(|| {
                    CompatError::invalid(&format!("{}[{i}]", self.path_of(key)), x, "must be a number")
                })
            })
            .collect()
    }

    /// A required list of non-negative integers.
    pub fn u64_list(&self, key: &str) -> Result<Vec<u64>, CompatError> {
        let v = self.required(key)?;
        let list = v.as_array().ok_or_else(|| {
            CompatError::invalid(&self.path_of(key), v, "must be a list of non-negative integers")
        })?;
        list.iter()
            .enumerate()
            .map(|(i, x)| {
                as_u64(x).ok_or_else(|| {
                    CompatError::invalid(
                        &format!("{}[{i}]", self.path_of(key)),
                        x,
                        "must be a non-negative integer",
                    )
                })
            })
            .collect()
    }

    /// A required list of objects, with their paths.
    pub fn objects(&self, key: &str) -> Result<Vec<(String, &'a Value)>, CompatError> {
        let v = self.required(key)?;
        let list = v
            .as_array()
            .ok_or_else(|| CompatError::invalid(&self.path_of(key), v, "must be a list"))?;
        Ok(list
            .iter()
            .enumerate()
            .map(|(i, x)| (format!("{}[{i}]", self.path_of(key)), x))
            .collect())
    }

    /// A nested object, or `None` when absent.
    pub fn object(&self, key: &str) -> Result<Option<Fields<'a>>, CompatError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Fields {
                path: self.path_of(key),
                map,
            })),
            Some(other) => Err(CompatError::invalid(&self.path_of(key), other, "must be an object")),
        }
    }

    /// Rejects keys that the peer does not know, so a typo is an error, not a silent default.
    pub fn only(&self, known: &[&str]) -> Result<(), CompatError> {
        match self.map.keys().find(|k| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) => Err(CompatError::Unsupported {
                field: self.path_of(k),
                detail: format!("unknown or unsupported argument (known: {})", known.join(", ")),
            }),
        }
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    v.as_f64().filter(|x| x.is_finite())
}

fn as_u64(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|x| x.is_finite() && *x >= 0.0 && x.fract() == 0.0 && *x < 1.8e19)
            .map(|x| x as u64)
    })
}
