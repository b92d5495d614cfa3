//! The pages, one module each, and the app frame around them.

pub mod home;

use leptos::prelude::*;

/// The app: the top bar and the page.
#[component]
pub fn App() -> impl IntoView {
    view! {
        <header class="topbar">
            <span class="brand">"pharos"</span>
            <nav>
                <a href="./" class="active">"Home"</a>
            </nav>
        </header>
        <main>
            <home::Home />
        </main>
    }
}
