//! Reading JSON text into a [`Param`] through serde, member order kept.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::request::Param;

/// serde adapter that builds a [`Param`] straight from the JSON text,
/// keeping object members in order (serde_json's own map would sort them).
pub(super) struct JsonParam(pub(super) Param);

impl<'de> Deserialize<'de> for JsonParam {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ParamVisitor).map(JsonParam)
    }
}

struct ParamVisitor;

impl<'de> Visitor<'de> for ParamVisitor {
    type Value = Param;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Param, E> {
        Ok(Param::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Param, E> {
        Ok(Param::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Param, E> {
        Ok(i64::try_from(v).map_or(Param::Double(v as f64), Param::Int))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Param, E> {
        Ok(Param::Double(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Param, E> {
        Ok(Param::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Param, E> {
        Ok(Param::String(v))
    }

    fn visit_unit<E>(self) -> Result<Param, E> {
        Ok(Param::Nil)
    }

    fn visit_none<E>(self) -> Result<Param, E> {
        Ok(Param::Nil)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Param, A::Error> {
        let mut items = Vec::new();
        while let Some(JsonParam(p)) = seq.next_element()? {
            items.push(p);
        }
        Ok(Param::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Param, A::Error> {
        let mut members = Vec::new();
        while let Some((k, JsonParam(v))) = map.next_entry::<String, JsonParam>()? {
            members.push((k.into(), v));
        }
        Ok(Param::Struct(members))
    }
}
