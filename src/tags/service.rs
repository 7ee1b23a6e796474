use std::sync::Arc;
use crate::store::Store;
pub struct TagService { store: Arc<dyn Store> }
impl TagService { pub fn new(store: Arc<dyn Store>) -> Self { TagService { store } } }
