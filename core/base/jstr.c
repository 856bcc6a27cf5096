#include "base/jstr.h"

#include <string.h>

#include <json-c/printbuf.h>

const char *jstr(json_object *v)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

static int verbatim_serializer(json_object *jso, struct printbuf *pb, int level, int flags)
{
	const char *s = json_object_get_string(jso);

	(void)level;
	(void)flags;
	printbuf_memappend(pb, s, (int)strlen(s));
	return 0;
}

json_object *jstr_verbatim(const char *json_text)
{
	json_object *o = json_object_new_string(json_text);

	json_object_set_serializer(o, verbatim_serializer, NULL, NULL);
	return o;
}
