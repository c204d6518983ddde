//! `web_fetch`: fetches an `http`/`https` URL as text, with a size cap and a
//! time cap. The host is resolved first and every address is checked:
//! loopback, private, link-local, CGNAT, unspecified, multicast and other
//! special-purpose addresses are refused unless configured. The request is
//! then pinned to the checked addresses (no second DNS lookup), and
//! redirects are followed by hand, each one checked the same way.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use serde_json::json;

use super::{cap_text, str_arg, Tool, ToolContext, ToolError};
use crate::provider::ToolSpec;

/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;

/// Settings of [`WebFetchTool`].
#[derive(Debug, Clone)]
pub struct WebFetchConfig {
    /// Bytes read at most (the body is cut off after this).
    pub max_bytes: usize,
    /// Time allowed for the whole fetch.
    pub timeout: Duration,
    /// Allow private, link-local and other non-public addresses.
    pub allow_private: bool,
    /// Allow loopback addresses (127.0.0.0/8, ::1).
    pub allow_loopback: bool,
}

impl Default for WebFetchConfig {
    fn default() -> Self {
        WebFetchConfig {
            max_bytes: 1024 * 1024,
            timeout: Duration::from_secs(15),
            allow_private: false,
            allow_loopback: false,
        }
    }
}

/// The `web_fetch` tool.
#[derive(Debug, Clone, Default)]
pub struct WebFetchTool {
    /// Settings.
    pub config: WebFetchConfig,
}

/// Whether `ip` is a loopback address (including IPv4-mapped).
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Whether `ip` is a non-public address other than loopback.
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return non_public_v4(v4) || v4.is_loopback();
            }
            non_public_v6(v6)
        }
    }
}

fn non_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xC0) == 64) // 100.64.0.0/10 CGNAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24
        || (o[0] == 198 && (o[1] & 0xFE) == 18) // 198.18.0.0/15 benchmarking
        || o[0] >= 240 // reserved
}

fn non_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xFE00) == 0xFC00 // fc00::/7 unique local
        || (s[0] & 0xFFC0) == 0xFE80 // fe80::/10 link-local
        || (s[0] & 0xFFC0) == 0xFEC0 // fec0::/10 site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0DB8) // documentation
        || (s[0] == 0x0064 && s[1] == 0xFF9B) // NAT64 may reach private v4
}

impl WebFetchConfig {
    /// Why `ip` may not be fetched, if it may not.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), ToolError> {
        if is_loopback(ip) {
            if self.allow_loopback {
                return Ok(());
            }
            return Err(ToolError::Refused(format!("{ip} is a loopback address")));
        }
        if is_non_public(ip) && !self.allow_private {
            return Err(ToolError::Refused(format!("{ip} is a private or reserved address")));
        }
        Ok(())
    }

    /// Resolves the URL's host and checks every address. Returns the host
    /// and the checked socket addresses.
    async fn vet(&self, url: &url::Url) -> Result<(String, Vec<SocketAddr>), ToolError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ToolError::Refused(format!(
                "only http and https URLs, not {}",
                url.scheme()
            )));
        }
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs: Vec<SocketAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            Some(url::Host::Domain(d)) => tokio::net::lookup_host((d, port))
                .await
                .map_err(|e| ToolError::Failed(format!("cannot resolve {d}: {e}")))?
                .collect(),
            None => return Err(ToolError::InvalidArguments("the URL has no host".into())),
        };
        if addrs.is_empty() {
            return Err(ToolError::Failed("the host has no addresses".into()));
        }
        for a in &addrs {
            self.check_ip(a.ip())?;
        }
        Ok((url.host_str().unwrap_or_default().to_owned(), addrs))
    }

    async fn fetch(&self, start: &str) -> Result<String, ToolError> {
        let mut url = url::Url::parse(start)
            .map_err(|e| ToolError::InvalidArguments(format!("not a URL: {e}")))?;
        for _ in 0..=MAX_REDIRECTS {
            let (host, addrs) = self.vet(&url).await?;
            let mut builder = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(self.timeout)
                .user_agent("Pincer/0.1 (web_fetch)");
            if url::Url::parse(&format!("http://{host}/"))
                .is_ok_and(|u| matches!(u.host(), Some(url::Host::Domain(_))))
            {
                builder = builder.resolve_to_addrs(&host, &addrs);
            }
            let client = builder.build().map_err(|e| ToolError::Failed(e.to_string()))?;
            let mut resp = client.get(url.clone()).send().await.map_err(|e| {
                if e.is_timeout() {
                    ToolError::Timeout(self.timeout.as_secs())
                } else {
                    ToolError::Failed(format!("request failed: {e}"))
                }
            })?;
            if resp.status().is_redirection() {
                let loc = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| ToolError::Failed("redirect without Location".into()))?;
                url = url.join(loc).map_err(|e| ToolError::Failed(format!("bad redirect: {e}")))?;
                continue;
            }
            let status = resp.status();
            let html = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| ct.contains("html"));
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| {
                if e.is_timeout() {
                    ToolError::Timeout(self.timeout.as_secs())
                } else {
                    ToolError::Failed(format!("reading the body failed: {e}"))
                }
            })? {
                body.extend_from_slice(&chunk);
                if body.len() > self.max_bytes {
                    body.truncate(self.max_bytes + 1);
                    break;
                }
            }
            let raw = String::from_utf8_lossy(&body).into_owned();
            let text = cap_text(if html { html_to_text(&raw) } else { raw }, self.max_bytes);
            if !status.is_success() {
                return Err(ToolError::Failed(format!("HTTP {status}: {}", cap_text(text, 500))));
            }
            return Ok(text);
        }
        Err(ToolError::Failed("too many redirects".into()))
    }
}

/// Readable text of an HTML page: tags, comments, `<script>`, `<style>`
/// and `<head>` contents removed, block tags turned into line breaks, common
/// entities decoded, blank runs collapsed.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while i < html.len() {
        let rest = &html[i..];
        if rest.starts_with("<!--") {
            i += lower[i..].find("-->").map_or(html.len() - i, |e| e + 3);
            continue;
        }
        if rest.starts_with('<') {
            let end = rest.find('>').map_or(html.len() - i, |e| e + 1);
            let tag = lower[i + 1..i + end].trim_start_matches('/');
            let name: String = tag.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            if !lower[i + 1..].starts_with('/')
                && matches!(name.as_str(), "script" | "style" | "head")
            {
                let close = format!("</{name}");
                i += lower[i..].find(&close).map_or(html.len() - i, |e| e);
                i += lower[i..].find('>').map_or(html.len() - i, |e| e + 1);
                continue;
            }
            if matches!(
                name.as_str(),
                "br" | "p"
                    | "div"
                    | "li"
                    | "tr"
                    | "h1"
                    | "h2"
                    | "h3"
                    | "h4"
                    | "h5"
                    | "h6"
                    | "title"
                    | "section"
                    | "article"
            ) {
                out.push('\n');
            }
            i += end;
            continue;
        }
        let next = rest.find('<').unwrap_or(rest.len());
        out.push_str(&rest[..next]);
        i += next;
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let mut text = String::new();
    for line in decoded.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")) {
        if !line.is_empty() {
            text.push_str(&line);
            text.push('\n');
        }
    }
    text.trim_end().to_owned()
}

#[async_trait::async_trait]
impl Tool for WebFetchTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "web_fetch".into(),
            description: "Fetch a public web page (http/https) and return its text.".into(),
            parameters: json!({
                "type": "object",
                "properties": {"url": {"type": "string", "description": "The http(s) URL"}},
                "required": ["url"]
            }),
        }
    }

    async fn call(&self, _ctx: &ToolContext, args: serde_json::Value) -> Result<String, ToolError> {
        let url = str_arg(&args, "url")?;
        let budget = self.config.timeout + Duration::from_secs(1);
        tokio::time::timeout(budget, self.config.fetch(url))
            .await
            .map_err(|_| ToolError::Timeout(self.config.timeout.as_secs()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_text() {
        let html = "<html><head><title>T</title><style>p{}</style></head><body>\
            <!-- c --><h1>标题</h1><p>第一段 &amp; <b>粗</b></p><script>alert(1)</script>\
            <ul><li>一</li><li>二</li></ul></body></html>";
        assert_eq!(html_to_text(html), "标题\n第一段 & 粗\n一\n二");
    }

    #[test]
    fn classifies_addresses() {
        for bad in [
            "10.1.2.3",
            "192.168.1.1",
            "172.16.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "fc00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_non_public(bad.parse().unwrap()), "{bad}");
        }
        for good in ["1.1.1.1", "8.8.8.8", "2606:4700:4700::1111"] {
            assert!(!is_non_public(good.parse().unwrap()), "{good}");
        }
        let cfg = WebFetchConfig::default();
        assert!(cfg.check_ip("127.0.0.1".parse().unwrap()).is_err());
        assert!(cfg.check_ip("::1".parse().unwrap()).is_err());
        let lo = WebFetchConfig { allow_loopback: true, ..WebFetchConfig::default() };
        assert!(lo.check_ip("127.0.0.1".parse().unwrap()).is_ok());
        assert!(lo.check_ip("10.0.0.1".parse().unwrap()).is_err());
    }
}
