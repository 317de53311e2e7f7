"""Pages of the reviewer console (run by ``st.navigation`` in ``streamlit_app.py``)."""
