//! The console's stylesheet and script, compiled into the binary and served under names that
//! carry a hash of their content, so they can be cached for a year: a new build has new names.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// Where the assets are served.
pub const ASSETS_PATH: &str = "/console/assets";

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// The file name with its content hash (`console-<hash>.css`).
    pub name: String,
    /// The strong ETag (`"<hash>"`).
    pub etag: String,
    content_type: &'static str,
    body: &'static str,
}

impl Asset {
    fn new(stem: &str, extension: &str, content_type: &'static str, body: &'static str) -> Self {
        let hash = hex::encode(&Sha256::digest(body.as_bytes())[..8]);
        Self {
            name: format!("{stem}-{hash}.{extension}"),
            etag: format!("\"{hash}\""),
            content_type,
            body,
        }
    }

    /// The path to link to.
    pub fn href(&self) -> String {
        format!("{ASSETS_PATH}/{}", self.name)
    }
}

/// The stylesheet.
pub static CSS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "console",
        "css",
        "text/css; charset=utf-8",
        include_str!("static/console.css"),
    )
});

/// The script (live refresh).
pub static JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "console",
        "js",
        "text/javascript; charset=utf-8",
        include_str!("static/console.js"),
    )
});

/// `GET /console/assets/{file}`: the asset, `304` when the client has it, `404` for any other
/// name (an old hash included).
pub async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = [&*CSS, &*JS].into_iter().find(|a| a.name == file) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == asset.etag));
    let mut response = if cached {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, asset.body).into_response()
    };
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(etag) = HeaderValue::from_str(&asset.etag) {
        out.insert(header::ETAG, etag);
    }
    response
}
