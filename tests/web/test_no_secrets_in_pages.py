"""No page may carry the app's settings: Jinja's ``config`` is Flask's app config, secrets included."""

SECRET = "s3cr3t-must-never-reach-a-page"


def test_no_route_leaks_the_secret_key(app):
    app.config["SECRET_KEY"] = SECRET
    client = app.test_client()
    paths = sorted({rule.rule for rule in app.url_map.iter_rules()
                    if "GET" in rule.methods and "<" not in rule.rule and not rule.rule.startswith("/static")})
    assert {"/", "/map", "/planner", "/embed", "/embed/builder"} <= set(paths)
    for path in paths:
        for query in ("", "?lang=en"):
            body = client.get(path + query).get_data(as_text=True)
            assert SECRET not in body, path
            assert "SECRET_KEY" not in body, path
