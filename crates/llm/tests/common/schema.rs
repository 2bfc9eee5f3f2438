//! A small OpenAPI 3 schema checker: `$ref`, `allOf`, `anyOf`, `oneOf`, `type`, `nullable`,
//! `enum`, `required`, `properties` (unknown properties are errors wherever a schema lists its
//! properties and does not allow additional ones), `items`, `minItems`, `minimum`, `maximum`.

use serde_json::Value;

pub struct Spec {
    root: Value,
}

impl Spec {
    /// Loads `specs/openai_openapi.json` from the workspace.
    pub fn openai() -> Self {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../specs/openai_openapi.json"
        );
        let text = std::fs::read_to_string(path).expect("specs/openai_openapi.json is readable");
        Self {
            root: serde_json::from_str(&text).expect("the spec is JSON"),
        }
    }

    /// Checks `value` against `#/components/schemas/{name}`.
    pub fn check(&self, name: &str, value: &Value) -> Result<(), String> {
        let schema = self.root["components"]["schemas"]
            .get(name)
            .unwrap_or_else(|| panic!("no schema {name}"));
        self.check_at(schema, value, "$")
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        let mut schema = schema;
        while let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let pointer = r.strip_prefix('#').expect("local $ref");
            schema = self
                .root
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {r}"));
        }
        schema
    }

    /// The property names a schema declares, through `allOf` and `$ref`. `None` if it allows
    /// additional properties or declares none.
    fn known_properties(&self, schema: &Value, out: &mut Vec<String>) -> bool {
        let schema = self.resolve(schema);
        let mut declared = false;
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            out.extend(props.keys().cloned());
            declared = true;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                declared |= self.known_properties(s, out);
            }
        }
        if matches!(schema.get("additionalProperties"), Some(v) if v != &Value::Bool(false)) {
            return false;
        }
        declared
    }

    /// The full check, including unknown properties at this level.
    fn check_at(&self, schema: &Value, value: &Value, path: &str) -> Result<(), String> {
        let schema = self.resolve(schema);
        if value.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
            return Ok(());
        }
        self.check_core(schema, value, path)?;
        if let Some(obj) = value.as_object() {
            let mut known = Vec::new();
            if self.known_properties(schema, &mut known) {
                for key in obj.keys() {
                    if !known.contains(key) {
                        return Err(format!("{path}: unknown property `{key}`"));
                    }
                }
            }
        }
        Ok(())
    }

    /// Everything except the unknown-property check at this level (`allOf` members each see
    /// only part of the object, so they are checked with this).
    fn check_core(&self, schema: &Value, value: &Value, path: &str) -> Result<(), String> {
        let schema = self.resolve(schema);
        if value.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
            return Ok(());
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.check_core(s, value, path)?;
            }
        }
        if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
            let errors: Vec<String> = any
                .iter()
                .filter_map(|s| self.check_at(s, value, path).err())
                .collect();
            if errors.len() == any.len() {
                return Err(format!("{path}: matches no anyOf branch: {errors:?}"));
            }
        }
        if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
            let errors: Vec<String> = one
                .iter()
                .filter_map(|s| self.check_at(s, value, path).err())
                .collect();
            let ok = one.len() - errors.len();
            if ok != 1 {
                return Err(format!(
                    "{path}: matches {ok} oneOf branches (need 1): {errors:?}"
                ));
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            return Err(format!("{path}: {value} is not one of {allowed:?}"));
        }
        if let Some(ty) = schema.get("type").and_then(Value::as_str) {
            let ok = match ty {
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "object" => value.is_object(),
                "array" => value.is_array(),
                "null" => value.is_null(),
                other => panic!("unknown type {other}"),
            };
            if !ok {
                return Err(format!("{path}: {value} is not of type {ty}"));
            }
        }
        if let Some(n) = value.as_f64() {
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
                && n < min
            {
                return Err(format!("{path}: {n} < minimum {min}"));
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
                && n > max
            {
                return Err(format!("{path}: {n} > maximum {max}"));
            }
        }
        if let Some(obj) = value.as_object() {
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for r in required.iter().filter_map(Value::as_str) {
                    if !obj.contains_key(r) {
                        return Err(format!("{path}: missing required `{r}`"));
                    }
                }
            }
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (key, sub) in props {
                    if let Some(v) = obj.get(key) {
                        self.check_at(sub, v, &format!("{path}.{key}"))?;
                    }
                }
            }
        }
        if let Some(items) = value.as_array() {
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
                && (items.len() as u64) < min
            {
                return Err(format!("{path}: fewer than {min} items"));
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    self.check_at(item_schema, item, &format!("{path}[{i}]"))?;
                }
            }
        }
        Ok(())
    }
}
