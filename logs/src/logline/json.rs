//! JSON records: one object per line, with the time, client, user and host under the keys
//! servers commonly use.

use serde_json::Value;

use super::entity::{ip_of, message_facts, user_of};
use super::time::{epoch, num, parse_iso};
use super::{Entity, EntityKind, Event, LogFormat, ParsedLine};

const JSON_TIME_KEYS: [&str; 5] = ["timestamp", "time", "@timestamp", "ts", "datetime"];
const JSON_IP_KEYS: [&str; 10] = [
    "src_ip",
    "source_ip",
    "client_ip",
    "remote_addr",
    "ip",
    "clientip",
    "source.ip",
    "client.ip",
    "src",
    "remote_ip",
];
const JSON_USER_KEYS: [&str; 5] = ["user", "username", "user_name", "user.name", "account"];
const JSON_HOST_KEYS: [&str; 4] = ["host", "hostname", "host.name", "computer"];

/// A value by key, or by a dotted path into nested objects (ECS style `source.ip`).
fn json_get<'a>(obj: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    if let Some(v) = obj.get(key) {
        return Some(v);
    }
    let (head, tail) = key.split_once('.')?;
    match obj.get(head)? {
        Value::Object(inner) => json_get(inner, tail),
        _ => None,
    }
}

fn json_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        // `"user": {"name": "alice"}` and `"host": {"name": ...}` are common.
        Value::Object(o) => o.get("name").and_then(json_str),
        _ => None,
    }
}

pub(super) fn parse_json(line: &str, _year: i32) -> Option<ParsedLine> {
    let value: Value = serde_json::from_str(line).ok()?;
    let obj = value.as_object()?;
    let time = JSON_TIME_KEYS.iter().find_map(|k| match json_get(obj, k)? {
        Value::String(s) => parse_iso(s).or_else(|| s.parse::<f64>().ok().and_then(epoch)),
        Value::Number(n) => n.as_f64().and_then(epoch),
        _ => None,
    });
    let ip = JSON_IP_KEYS
        .iter()
        .find_map(|k| json_get(obj, k).and_then(json_str).and_then(|s| ip_of(&s)));
    let user = JSON_USER_KEYS.iter().find_map(|k| {
        json_get(obj, k)
            .and_then(json_str)
            .and_then(|s| user_of(&s))
    });
    let host = JSON_HOST_KEYS.iter().find_map(|k| {
        json_get(obj, k)
            .and_then(json_str)
            .filter(|s| !s.is_empty())
    });
    let msg = ["message", "msg", "event", "log"]
        .iter()
        .find_map(|k| json_get(obj, k).and_then(|v| v.as_str()))
        .unwrap_or("");
    let (msg_entity, mut event) = message_facts("", msg);
    if let Event::FailedLogin { user: named @ None } = &mut event {
        named.clone_from(&user);
    }
    if event == Event::Other {
        // Firewalls, IDS and honeypots: `"dest_port": 22`.
        let port = [
            "dst_port",
            "dest_port",
            "dport",
            "destination.port",
            "destination_port",
        ]
        .iter()
        .find_map(|k| {
            json_get(obj, k)
                .and_then(json_str)
                .and_then(|s| num::<u16>(&s))
        })
        .filter(|&p| p > 0);
        if let Some(port) = port {
            event = Event::Connection { port };
        }
    }
    let status = ["status", "status_code", "response_code"]
        .iter()
        .find_map(|k| {
            json_get(obj, k)
                .and_then(json_str)
                .and_then(|s| num::<u16>(&s))
        });
    let path = ["path", "uri", "url", "request_uri", "request"]
        .iter()
        .find_map(|k| json_get(obj, k).and_then(|v| v.as_str()));
    if let (Some(status), Some(path)) = (status, path) {
        let method = ["method", "request_method", "verb"]
            .iter()
            .find_map(|k| json_get(obj, k).and_then(|v| v.as_str()))
            .unwrap_or("-");
        let bytes = ["bytes", "body_bytes_sent", "size", "bytes_sent"]
            .iter()
            .find_map(|k| {
                json_get(obj, k)
                    .and_then(json_str)
                    .and_then(|s| num::<u64>(&s))
            })
            .unwrap_or(0);
        event = Event::Request {
            method: method.to_string(),
            path: path.to_string(),
            status,
            bytes,
        };
    }
    let entity = ip
        .map(|ip| Entity::new(EntityKind::Ip, ip))
        .or_else(|| user.map(|u| Entity::new(EntityKind::User, u)))
        .or(msg_entity)
        .or_else(|| host.clone().map(|h| Entity::new(EntityKind::Host, h)));
    Some(ParsedLine {
        format: LogFormat::Json,
        time,
        entity,
        host,
        event,
    })
}
