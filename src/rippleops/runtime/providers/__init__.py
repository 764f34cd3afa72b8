"""Model providers: the code that turns text into vectors (``embedders``) and, later, text into
text. Providers take inputs and return results; they know nothing of the store or the
services, which persist what providers return.

Each provider family is a small abstract base plus real implementations whose heavy
dependencies sit behind an optional extra (``pip install 'rippleops[embed]'``); importing this
package never imports them.
"""
