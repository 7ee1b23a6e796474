use std::sync::Arc;
use crate::store::Store;
pub struct TodoService { store: Arc<dyn Store> }
impl TodoService { pub fn new(store: Arc<dyn Store>) -> Self { TodoService { store } } }
