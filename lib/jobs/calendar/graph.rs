//! Microsoft Graph: `GET /me/calendars` and `GET /me/calendars/{id}/calendarView`, paged by
//! `@odata.nextLink`. Times are asked for in UTC (`Prefer: outlook.timezone="UTC"`), and read
//! in whatever `timeZone` comes back all the same.

use jiff::Timestamp;
use serde_json::Value;

use super::CalendarError;
use super::client::{Client, Fetched, Listed, MAX_PAGES};
use super::event;
use crate::channels::oauth::urlencode;
use crate::core::store::Store;

const PREFER_UTC: &str = "outlook.timezone=\"UTC\"";
const SELECT: &str =
    "id,iCalUId,subject,start,end,isAllDay,isCancelled,showAs,sensitivity,responseStatus";

/// Every calendar of the signed-in user.
pub fn calendars(client: &mut Client<'_>, store: &mut Store) -> Result<Vec<Listed>, CalendarError> {
    let mut listed = Vec::new();
    let first = format!("{}/me/calendars?$select=id,name", base(client));
    each_page(client, store, first, &[], |page| {
        for item in items(page)? {
            if let Some(calendar) = item["id"]
                .as_str()
                .and_then(|id| Listed::new(id, item["name"].as_str()))
            {
                listed.push(calendar);
            }
        }
        Ok(())
    })?;
    Ok(listed)
}

/// The events of calendar `id` between `start` and `end`, occurrences of series expanded by
/// Graph.
pub fn events(
    client: &mut Client<'_>,
    store: &mut Store,
    id: &str,
    start: Timestamp,
    end: Timestamp,
) -> Result<Fetched, CalendarError> {
    let first = format!(
        "{}/me/calendars/{}/calendarView?startDateTime={}&endDateTime={}&$top=500&$select={SELECT}",
        base(client),
        urlencode(id),
        urlencode(&start.to_string()),
        urlencode(&end.to_string()),
    );
    let mut fetched = Fetched::default();
    let prefer = [("prefer", PREFER_UTC)];
    each_page(client, store, first, &prefer, |page| {
        for item in items(page)? {
            fetched.add(item, event::from_graph(item))?;
        }
        Ok(())
    })?;
    Ok(fetched)
}

fn base(client: &Client<'_>) -> String {
    client.account.api_base().trim_end_matches('/').to_string()
}

fn items(page: &Value) -> Result<&Vec<Value>, CalendarError> {
    page["value"]
        .as_array()
        .ok_or_else(|| CalendarError::Malformed("a Graph page without \"value\"".into()))
}

fn each_page(
    client: &mut Client<'_>,
    store: &mut Store,
    first: String,
    headers: &[(&str, &str)],
    mut each: impl FnMut(&Value) -> Result<(), CalendarError>,
) -> Result<(), CalendarError> {
    let mut url = first;
    for _ in 0..MAX_PAGES {
        let page = client.get(store, &url, headers)?;
        each(&page)?;
        match page["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => return Ok(()),
        }
    }
    Err(CalendarError::Malformed(format!(
        "more than {MAX_PAGES} pages of @odata.nextLink"
    )))
}
