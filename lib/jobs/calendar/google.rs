//! Google Calendar: `calendarList.list` and `events.list` with `singleEvents=true` (Google
//! expands recurring events), paged by `pageToken`.

use jiff::Timestamp;
use serde_json::Value;

use super::CalendarError;
use super::client::{Client, Fetched, Listed, MAX_PAGES};
use super::event;
use crate::channels::oauth::urlencode;
use crate::core::store::Store;

/// Every calendar in the user's calendar list.
pub fn calendars(client: &mut Client<'_>, store: &mut Store) -> Result<Vec<Listed>, CalendarError> {
    let mut listed = Vec::new();
    let first = format!("{}/users/me/calendarList?maxResults=250", base(client));
    each_page(client, store, &first, |page| {
        for item in items(page) {
            let name = item["summaryOverride"]
                .as_str()
                .or(item["summary"].as_str());
            if let Some(calendar) = item["id"].as_str().and_then(|id| Listed::new(id, name)) {
                listed.push(calendar);
            }
        }
        Ok(())
    })?;
    Ok(listed)
}

/// The events of calendar `id` between `start` and `end`, one item per occurrence.
pub fn events(
    client: &mut Client<'_>,
    store: &mut Store,
    id: &str,
    start: Timestamp,
    end: Timestamp,
) -> Result<Fetched, CalendarError> {
    let first = format!(
        "{}/calendars/{}/events?singleEvents=true&orderBy=startTime&maxResults=2500&timeMin={}&timeMax={}",
        base(client),
        urlencode(id),
        urlencode(&start.to_string()),
        urlencode(&end.to_string()),
    );
    let mut fetched = Fetched::default();
    each_page(client, store, &first, |page| {
        let zone = page["timeZone"].as_str();
        for item in items(page) {
            fetched.add(item, event::from_google(item, zone))?;
        }
        Ok(())
    })?;
    Ok(fetched)
}

fn base(client: &Client<'_>) -> String {
    client.account.api_base().trim_end_matches('/').to_string()
}

/// A page's items; Google leaves the key out of an empty page.
fn items(page: &Value) -> &[Value] {
    page["items"].as_array().map_or(&[], Vec::as_slice)
}

fn each_page(
    client: &mut Client<'_>,
    store: &mut Store,
    first: &str,
    mut each: impl FnMut(&Value) -> Result<(), CalendarError>,
) -> Result<(), CalendarError> {
    let mut url = first.to_string();
    for _ in 0..MAX_PAGES {
        let page = client.get(store, &url, &[])?;
        if !page.is_object() {
            return Err(CalendarError::Malformed(
                "a Google page that is not an object".into(),
            ));
        }
        each(&page)?;
        match page["nextPageToken"].as_str() {
            Some(token) if !token.is_empty() => {
                url = format!("{first}&pageToken={}", urlencode(token));
            }
            _ => return Ok(()),
        }
    }
    Err(CalendarError::Malformed(format!(
        "more than {MAX_PAGES} pages of nextPageToken"
    )))
}
