"""The subscription query language is the one query language of posts: see index.query."""
from index.query import (DEFAULT_FIELDS, PostFields, Query, QuerySyntaxError, Term, check_query,  # noqa: F401
                         highlight_pattern, normalize, parse_query)
