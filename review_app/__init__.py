"""The reviewer console (Streamlit): where people approve, reject or amend self-edits.

``streamlit_app.py`` is the entry (``st.navigation`` over ``app_pages/``); the logic is in plain
modules (``auth``, ``services``, ``launch``) and the Streamlit glue in ``ui``. It talks to the
memory API only through ``aion_assets.memory.client``, so a reviewer's token scopes everything.
"""
