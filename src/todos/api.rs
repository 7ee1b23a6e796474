use poem_openapi::OpenApi;
use crate::app::AppState;
pub struct TodoApi { pub state: AppState }
#[OpenApi]
impl TodoApi {}
