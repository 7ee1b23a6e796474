use poem_openapi::OpenApi;
use crate::app::AppState;
pub struct TagApi { pub state: AppState }
#[OpenApi]
impl TagApi {}
