//! Suricata's EVE records (`eve.json`): each names its kind in `event_type`, and the kind, not
//! the keys present, says what happened.
//! - `http`: a request (`http.http_method`, `http.url`, `http.status`, `http.length`,
//!   `http.http_user_agent`), also when the server never answered (status 0).
//! - `drop`, and an `alert` whose `alert.action` is `blocked` (IPS mode): a denial.
//! - Any other kind (`alert`, `flow`, `ssh`, `tls`, `dns`, `fileinfo`, …): a connection to
//!   `dest_port`. An alert's signature stays in the record's text, which is what the model
//!   reads.
//!
//! The client is `src_ip`, except for an alert on a packet the server sent (`"direction":
//! "to_client"`): Suricata writes an alert's addresses as the packet's, so there the client is
//! `dest_ip` and the service port is `src_port`.

use super::parsed::Event;

/// What an EVE record says beyond the common fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Eve {
    pub(super) event: Event,
    /// The client, where it is not `src_ip`.
    pub(super) client: Option<String>,
}

/// The fields of a JSON record that an EVE reading looks at.
pub(super) struct EveFields<'a> {
    /// `event_type`.
    pub(super) kind: Option<&'a str>,
    pub(super) src_ip: Option<&'a String>,
    pub(super) dest_ip: Option<&'a String>,
    pub(super) src_port: Option<u16>,
    pub(super) dest_port: Option<u16>,
    /// `direction`.
    pub(super) direction: Option<&'a str>,
    /// `alert.action`.
    pub(super) action: Option<&'a str>,
    /// The request of an `http` record, when its fields make one.
    pub(super) request: Option<Event>,
}

/// The EVE reading of a record: None unless it has Suricata's `event_type` and an address.
pub(super) fn read(f: EveFields<'_>) -> Option<Eve> {
    let kind = f.kind?;
    if f.src_ip.is_none() && f.dest_ip.is_none() {
        return None;
    }
    let (client, port) = if f.direction == Some("to_client") {
        (f.dest_ip.cloned(), f.src_port)
    } else {
        (None, f.dest_port)
    };
    let event = match kind {
        "http" => f.request.unwrap_or(Event::Other),
        "drop" => Event::Denied,
        "alert" if f.action == Some("blocked") => Event::Denied,
        _ => port.map_or(Event::Other, |port| Event::Connection { port }),
    };
    Some(Eve { event, client })
}
